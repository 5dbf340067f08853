"""Video propagation as extra training pairs (model.training.propagated) and label relaxation
(model.nets.losses.relaxed_ce): warped masks line up with their frames, the relaxed loss is CE away from
boundaries and never more at them, warped masks never reach labels/ or the corrected set, the card counts them,
and a run with them keeps its planned epochs."""

import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _train_data import COLOURS, TINY
from PIL import Image
from scipy.ndimage import gaussian_filter

from model.nets import normalization as nz
from model.nets.config import ConfigError, TrainConfig
from model.nets.losses import RELAX_FLAG, RELAX_RADIUS, build_loss, relaxed_ce, split_relaxed
from model.project.project import Project
from model.registry.modelfile import load_model
from model.training.defaults import DEFAULT_PROPAGATED_NEIGHBOURS
from model.training.propagated import boundary_band, build_propagated, neighbour_targets, relax
from model.training.train import train_dataset

VOID = 3
SIZE = 64
STEP = 3  # pixels the scene moves between frames


def _scene(width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured canvas (H, width, 3) and its classes: 1 inside a tall bar, 2 in a disc, 0 elsewhere; the colour
    carries the texture so optical flow can follow it."""
    rng = np.random.default_rng(seed)
    texture = gaussian_filter(rng.normal(size=(SIZE, width)), 1.5)
    texture = (texture - texture.min()) / np.ptp(texture)
    mask = np.zeros((SIZE, width), np.uint8)
    mask[12:52, 30:50] = 1
    yy, xx = np.mgrid[:SIZE, :width]
    mask[(yy - 32) ** 2 + (xx - 75) ** 2 < 12 ** 2] = 2
    image = COLOURS[mask].astype(np.float32) * 0.5 + 127 * texture[..., None]
    return image.clip(0, 255).astype(np.uint8), mask


def _frame(image: np.ndarray, mask: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    x = STEP * i
    return image[:, x:x + SIZE].copy(), mask[:, x:x + SIZE].copy()


def _video(tmp_path, frames: int = 5, corrected=(2,)) -> Project:
    """``frames`` frames of one sequence ``seq_00000k`` (camera panning STEP px a frame); ``corrected`` have masks,
    plus two independent corrected images so the run has a hold-out."""
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "codes.txt").write_text("Background\nBar\nDisc\nVoid\n")
    image, mask = _scene(SIZE + STEP * frames + 40)
    for i in range(frames):
        img, msk = _frame(image, mask, i)
        Image.fromarray(img).save(root / "images" / f"seq_{i:06d}.png")
        if i in corrected:
            Image.fromarray(msk).save(root / "labels" / f"seq_{i:06d}_P.png")
    for j in range(2):
        img, msk = _frame(*_scene(SIZE + 20, seed=5 + j), 0)
        Image.fromarray(img).save(root / "images" / f"other{j}.png")
        Image.fromarray(msk).save(root / "labels" / f"other{j}_P.png")
    (root / "valid.txt").write_text("other0.png\n")
    return Project.open(root)


def _digest(root) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "labels").iterdir())}


def test_warped_pairs_line_up_with_their_frames_except_the_relaxed_band(tmp_path):
    project = _video(tmp_path)
    cfg = TrainConfig(**TINY, propagated_neighbours=2)
    train, val = project.training_names()
    targets = neighbour_targets(project, train, val, 2)
    assert [(t, s) for t, s, _ in targets][:2] == [("seq_000001", "seq_000002"), ("seq_000003", "seq_000002")]
    assert {t for t, _, _ in targets} == {"seq_000000", "seq_000001", "seq_000003", "seq_000004"}
    # a frame as near a validation frame as to its source is left out (it would leak into the validation figure)
    assert {t for t, _, _ in neighbour_targets(project, train, ["seq_000004"], 2)} == {"seq_000000", "seq_000001"}
    pairs, summary = build_propagated(project, cfg, train, val, nz.imagenet(), VOID, None, 4)
    assert summary["pairs"] == 4 and summary["rejected_by_fit"] == 0
    image, mask = _scene(SIZE + STEP * 5 + 40)
    for k, used in enumerate(summary["used"]):
        i = int(used["image"][-1])
        _, truth = _frame(image, mask, i)
        got = pairs.load(k)[1]
        classes, flagged = split_relaxed(torch.from_numpy(got.astype(np.int64)), VOID)
        classes, flagged = classes.numpy(), flagged.numpy()
        inner = np.zeros_like(flagged)
        inner[:, : SIZE - STEP * 2] = True  # the edge a frame gains at its side has no source pixels
        if i < 2:
            inner = inner[:, ::-1]
        assert flagged.any() and flagged.mean() < 0.3           # a band, not the frame
        assert (classes[inner & ~flagged] == truth[inner & ~flagged]).mean() > 0.99
        assert np.array_equal(pairs.load(k)[0], np.asarray(Image.open(project.image_path(used["image"])).convert("RGB")))


def test_boundary_band_and_relax_mark_pixels_near_a_class_change_only():
    mask = np.zeros((12, 12), np.uint8)
    mask[:, 6:] = 1
    mask[0, :] = VOID
    band = boundary_band(mask, 2, VOID)
    assert band[5, 4:8].all() and not band[5, :4].any() and not band[5, 8:].any()
    relaxed = relax(mask, VOID, 2, 4)
    assert (relaxed[5, 4:8] == mask[5, 4:8] + RELAX_FLAG).all() and (relaxed[0] == VOID).all()
    fallback = relax(mask, VOID, 2, RELAX_FLAG + 1)  # too many classes to flag: the band is ignored
    assert (fallback[5, 4:8] == VOID).all() and (fallback[5, :4] == 0).all()


def test_relaxed_loss_is_ce_away_from_boundaries_and_never_more_at_them():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 10, 10)
    target = torch.zeros(2, 10, 10, dtype=torch.long)
    target[:, :, 5:] = 1
    target[:, 0] = VOID
    ce = F.cross_entropy(logits, target, ignore_index=VOID, reduction="none")
    none = torch.zeros_like(target, dtype=torch.bool)
    assert torch.allclose(relaxed_ce(logits, target, none, VOID), ce[target != VOID].mean(), atol=1e-6)
    flagged = none.clone()
    flagged[:, :, 3:7] = True
    flagged[:, 0] = False
    far = flagged.clone()
    far[:, :, :] = False
    far[:, 1:, 0] = True  # flagged but alone in its window's class: exactly CE
    assert torch.allclose(relaxed_ce(logits, target, far, VOID), ce[target != VOID].mean(), atol=1e-6)
    assert relaxed_ce(logits, target, flagged, VOID) < ce[target != VOID].mean()
    # a network sure of the neighbouring class at a boundary pixel: CE is large, relaxed nearly nothing
    sure = torch.full((1, 4, 10, 10), -10.0)
    sure[:, 1] = 10.0
    one = torch.full((1, 10, 10), VOID, dtype=torch.long)
    one[:, :, 5:5 + RELAX_RADIUS] = 0  # the warp's band: class 0 next to class 1
    one[:, :, 5 + RELAX_RADIUS:] = 1
    at = one == 0
    assert F.cross_entropy(sure, one, ignore_index=VOID) > 5 and relaxed_ce(sure, one, at, VOID) < 0.01
    # SegLoss decodes flagged targets: unflagged batches score exactly as before
    loss = build_loss("ce+dice", VOID)
    assert torch.allclose(loss(logits, target), F.cross_entropy(logits, target, ignore_index=VOID)
                          + loss.dice(logits, target))
    assert loss(logits, torch.where(flagged, target + RELAX_FLAG, target)) < loss(logits, target) + 1e-6


def test_training_with_propagated_pairs_writes_no_mask_and_records_them(tmp_path):
    project = _video(tmp_path)
    before = _digest(project.root)
    statuses = project.statuses()
    training_before = project.training_names()
    events = []
    path = train_dataset(project.root, TrainConfig(**TINY, epochs=2, propagated_neighbours=1), on_event=events.append)
    card = load_model(path).card
    summary = card["training"]["propagated"]
    assert summary["neighbours"] == 1 and summary["pairs"] == 2 and len(summary["used"]) == 2
    assert card["training"]["epochs"] == 2  # the planned epochs, with the extra pairs in them
    start = next(e for e in events if e["event"] == "start")
    assert start["images"] == len(training_before[0]) + 2
    assert {"seq_000001", "seq_000003"} <= set(card["seen_images"])
    assert "seq_000001" not in card["training_images"]
    assert any("video propagation:" in e.get("message", "") for e in events if e["event"] == "notice")
    reopened = Project.open(project.root)
    assert _digest(project.root) == before  # no warped mask reaches labels/
    assert reopened.statuses() == statuses and reopened.training_names() == training_before
    assert "seq_000001" not in reopened.training_names()[0]
    assert json.dumps(card)


def test_off_by_default_and_bad_values_name_the_option(tmp_path):
    from model.training.defaults import Hardware, resolve_config

    cfg, _, _ = resolve_config(None, num_images=25, image_wh=(480, 360), hw=Hardware("cpu", 2),
                               models_dir=tmp_path / "models", codes=["a", "b"])
    assert cfg.propagated_neighbours == DEFAULT_PROPAGATED_NEIGHBOURS == 0
    for bad in (-1, 11, 1.5, True):
        with pytest.raises(ConfigError, match="propagated_neighbours"):
            TrainConfig.from_dict({"propagated_neighbours": bad})


def test_warping_stops_at_its_deadline_and_says_how_many_were_skipped(tmp_path):
    import time

    project = _video(tmp_path)
    train, val = project.training_names()
    cfg = TrainConfig(**TINY, propagated_neighbours=2)
    notes = []
    pairs, summary = build_propagated(project, cfg, train, val, nz.imagenet(), VOID, None, 4, notes.append,
                                      deadline=time.monotonic() - 1)
    assert len(pairs) == summary["pairs"] == 1 and summary["skipped_for_time"] == 3  # at least one, then stop
    assert summary["used"][0]["image"] in ("seq_000001", "seq_000003")  # the nearest first
    assert "3 skipped for time" in notes[-1]["message"]
