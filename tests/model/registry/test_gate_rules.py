"""The promotion gate against the active AND the best model, on images none of them trained on; the rollback
target survives pruning. Fake model files (tiny weights, hand-written cards) and fake scores: no training."""

import io
import json
import time
from contextlib import redirect_stdout

import torch
from _train_data import CODES, make_dataset

from model.nets.networks import normalization
from model.registry import gate, registry
from model.registry.modelfile import list_models, make_card, read_card, save_model


def _save(models_dir, training, miou=None, *, seen=None, parent=None, extra=None):
    """A complete model file without training; ``seen`` None writes no seen_images (a card from before it)."""
    card = make_card(arch="Unet", encoder="resnet18", classes=CODES, void_index=3, normalization=normalization(),
                     input_size=[64, 64], training_images=list(training))
    if seen is not None:
        card["seen_images"] = sorted(seen)
    card["training"] = {"fine_tuned_from": parent}
    if miou is not None:
        card["validation"] = {"source": "valid.txt", "images": ["v"], "metrics": {"miou": miou, "pixel_accuracy": 0.5}}
    card.update(extra or {})
    path = save_model(models_dir, torch.nn.Conv2d(3, len(CODES), 1), card)  # the card is what counts
    time.sleep(0.01)  # completion order = card mtime order
    return path


class Scores:
    """Fake evaluation: each model has one mIoU; every call is recorded with the images it was given."""

    def __init__(self):
        self.miou, self.calls = {}, []

    def scorer(self, name):
        def score(images):
            self.calls.append((name, list(images)))
            return {"miou": self.miou[name], "pixel_accuracy": 0.5}
        return score

    def load(self, path):
        return read_card(path), self.scorer(path.name)


def _retrain(models_dir, scores, new_miou, training, validation):
    """What a retrain's end does (model.training.train._gate/_finish), with a fake model and fake scores."""
    others, active = registry.contenders(models_dir, CODES, scores.load)
    seen = gate.learned_from(training, active, models_dir)  # it fine-tunes the active model
    scores.miou["new"] = new_miou
    validation_part, verdict = gate.compare(validation, seen, scores.scorer("new"), others)
    miou = validation_part["metrics"].get("miou")
    path = _save(models_dir, training, miou, seen=seen, parent=active and active.name,
                 extra={"gate": verdict, "validation": dict(validation_part, source="valid.txt")})
    scores.miou[path.name] = new_miou
    registry.record_trained(models_dir, path, verdict["promoted"], active, None)
    return path, verdict


VALID = [f"v{i}" for i in range(5)]
TRAIN = [f"t{i}" for i in range(10)]


def test_ten_retrains_each_a_little_worse_than_the_active_do_not_drift(tmp_path):
    models, scores = tmp_path / "models", Scores()
    first, verdict = _retrain(models, scores, 0.5, TRAIN, VALID)
    assert verdict["promoted"] and registry.active_model(models) == first
    promoted = []
    for _ in range(10):  # each 0.009 worse than the model proposing: within the 0.01 tolerance of it
        active = registry.active_model(models)
        path, verdict = _retrain(models, scores, scores.miou[active.name] - 0.009, TRAIN, VALID)
        promoted.append(verdict["promoted"])
    assert promoted[0] and not all(promoted) and sum(promoted) == 1
    active = registry.active_model(models)
    assert scores.miou[active.name] >= 0.5 - gate.MIOU_TOLERANCE  # 0.491, not 0.41
    last = read_card(path)["gate"]
    assert last["promoted"] is False and last["best"]["name"] == first.name and last["best"]["miou"] == 0.5
    assert last["active"]["name"] == active.name and len(last["images"]) == 5
    second = read_card(list_models(models)[2])["gate"]  # the first one rejected: only the best rule stopped it
    assert "vs best 0.500" in second["reason"]
    assert first.exists()  # the best and rollback target is never pruned


def test_no_model_is_scored_on_an_image_it_trained_on(tmp_path):
    models, scores = tmp_path / "models", Scores()
    old = _save(models, ["img07"], 0.4)  # a card from before seen_images: its lineage is walked
    best = _save(models, ["img06"], 0.9, parent=old.name)
    active = _save(models, ["img00", "img01", "img02", "img03", "img04", "img05"], 0.6,
                   seen=["img00", "img01", "img02", "img03", "img04", "img05"])
    registry.promote(models, active.name)
    for path, miou in ((old, 0.4), (best, 0.9), (active, 0.6)):
        scores.miou[path.name] = miou
    assert gate.seen_images(read_card(best), models) == {"img06", "img07"}
    others, found = registry.contenders(models, CODES, scores.load)
    assert found == active and [(c.role, c.name) for c in others] == [("active", active.name), ("best", best.name)]
    candidate = gate.learned_from(["img10", "img11"], active, models)
    assert candidate >= {"img00", "img05", "img10"}  # a fine-tune saw what the model it started from saw
    seen_by = {"new": candidate, active.name: gate.seen_images(read_card(active), models),
               best.name: gate.seen_images(read_card(best), models)}
    scores.miou["new"] = 0.7

    # valid.txt changed to list images the active and the best model trained on: only 2 images are left
    valid = [f"img{i:02d}" for i in range(3, 10)]
    validation, verdict = gate.compare(valid, candidate, scores.scorer("new"), others)
    assert verdict["promoted"] is False and verdict["images"] == ["img08", "img09"]
    assert verdict["excluded"] == ["img03", "img04", "img05", "img06", "img07"]
    assert "only 2 of 7" in verdict["reason"] and "at least 3" in verdict["reason"] and "by hand" in verdict["reason"]
    assert validation["images"] == ["img06", "img07", "img08", "img09"]  # the new model's own, unseen validation
    assert [name for name, _ in scores.calls] == ["new"]  # the others were not scored on too few images

    # more images nobody trained on: compared on the same 5 images, none seen by any of the three
    scores.calls.clear()
    validation, verdict = gate.compare(valid + ["img12", "img13", "img14"], candidate, scores.scorer("new"), others)
    shared = ["img08", "img09", "img12", "img13", "img14"]
    assert verdict["images"] == shared and {name for name, _ in scores.calls} == set(seen_by)
    for name, images in scores.calls:
        assert not set(images) & seen_by[name], name
    assert all(images == shared for name, images in scores.calls if name != "new")
    assert verdict["active"] == {"name": active.name, "miou": 0.6, "pixel_accuracy": 0.5}
    assert verdict["best"] == {"name": best.name, "miou": 0.9, "pixel_accuracy": 0.5}
    assert verdict["promoted"] is False and "vs best 0.900" in verdict["reason"]  # 0.7 is far below the best


def test_a_file_name_in_a_card_matches_the_image_and_a_card_without_lists_refuses():
    kept, out = gate.unseen_images(["x", "y", "z.b"], [{"x.jpg"}, {"z"}])
    assert kept == ["y", "z.b"] and out == ["x"]  # "z.b" is not the file name of image "z"
    assert gate.seen_images({"training_images": None}) is None
    unknown = gate.Contender("active", "m.safetensors", None, lambda images: {"miou": 0.5})
    _, verdict = gate.compare(["a", "b", "c"], {"t"}, lambda images: {"miou": 0.9}, [unknown])
    assert verdict["promoted"] is False and "does not list the images it trained on" in verdict["reason"]


def test_three_rejected_retrains_leave_the_rollback_target_on_disk(tmp_path):
    models, scores = tmp_path / "models", Scores()
    previous, _ = _retrain(models, scores, 0.5, TRAIN, VALID)
    active, verdict = _retrain(models, scores, 0.6, TRAIN, VALID)
    assert verdict["promoted"] and registry.rollback_target(models) == previous
    for _ in range(3):
        _, verdict = _retrain(models, scores, 0.3, TRAIN, VALID)
        assert verdict["promoted"] is False
    assert len(list_models(models)) == 5 and previous.exists() and previous.with_suffix(".json").exists()
    assert registry.active_model(models) == active
    assert registry.roll_back(models) == previous


def test_models_evaluate_leaves_out_the_images_the_model_trained_on(tmp_path, monkeypatch, capsys):
    import model.evaluation.evaluate
    from labeltool.cli import main

    root = make_dataset(tmp_path / "ds", count=6, valid=4)  # valid.txt: img00..img03
    path = _save(root / "models", ["img01", "img02", "img04", "img05"], 0.5)
    asked = []

    def fake_evaluate(project, model_path=None, names=None, save=False):
        asked.append(list(names))
        return {"miou": 0.5, "pixel_accuracy": 0.5, "per_class_iou": {}, "per_class": {}}

    monkeypatch.setattr(model.evaluation.evaluate, "evaluate_project", fake_evaluate)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["models", str(root), "--evaluate", path.stem, "--json"]) == 0
    result = json.loads(out.getvalue())
    assert asked == [["img00", "img03"]] and result["excluded"] == ["img01", "img02"]
    (root / "valid.txt").write_text("img01.png\nimg02.png\n")
    capsys.readouterr()
    assert main(["models", str(root), "--evaluate", path.stem]) != 0 and asked == [["img00", "img03"]]
    assert "trained on all 2 current validation images" in capsys.readouterr().err


def test_retrain_after_valid_txt_changed_never_scores_the_active_model_on_its_training_images(tmp_path):
    from model.nets.config import TrainConfig
    from model.training.train import train_dataset

    root = make_dataset(tmp_path / "ds", count=8, valid=2)
    tiny = dict(arch="Unet", encoder="resnet18", encoder_weights=None, size=[64, 64], scale=1.0, batch_size=2,
                threads=1, checkpoint_every=1e6, augment=False, epochs=1)
    first = train_dataset(root, TrainConfig(**tiny, init="fresh"))
    assert read_card(first)["seen_images"] == [f"img{i:02d}" for i in range(2, 8)]
    (root / "valid.txt").write_text("".join(f"img{i:02d}.png\n" for i in range(5)))  # now lists img02..04 too
    events = []
    second = train_dataset(root, TrainConfig(**tiny), on_event=events.append)  # fine-tunes the first
    card = read_card(second)
    verdict = card["gate"]
    assert verdict["images"] == ["img00", "img01"] and verdict["excluded"] == ["img02", "img03", "img04"]
    assert card["validation"]["images"] == ["img00", "img01"]  # its own figure: not on what it inherited either
    assert verdict["promoted"] is False and "at least 3" in verdict["reason"]
    assert registry.active_model(root / "models") == first
    assert events[-1]["promoted"] is False and any("NOT promoted" in e.get("message", "") for e in events)


def test_a_best_model_that_cannot_be_scored_is_named_and_the_active_one_still_decides():
    from model.errors import ModelFileError

    def broken(images):
        raise ModelFileError("best.safetensors: weights do not match")

    good = gate.Contender("active", "a.safetensors", {"t1"}, lambda images: {"miou": 0.5, "pixel_accuracy": 0.5})
    bad = gate.Contender("best", "b.safetensors", {"t2"}, broken)
    _, verdict = gate.compare(["v1", "v2", "v3"], {"t0"}, lambda images: {"miou": 0.45, "pixel_accuracy": 0.5},
                              [good, bad])
    assert verdict["best"] == {"name": "b.safetensors", "error": "best.safetensors: weights do not match"}
    assert verdict["promoted"] is False and "vs active 0.500" in verdict["reason"]
    _, verdict = gate.compare(["v1", "v2", "v3"], {"t0"}, lambda images: {"miou": 0.45},
                              [gate.Contender("active", "a.safetensors", {"t1"}, broken)])
    assert verdict["promoted"] is True and "cannot be scored" in verdict["reason"]
