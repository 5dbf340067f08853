"""Training engine through the command line and in-process: event stream, resume, budget, fine-tuning, OOM."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _train_data import CODES, REPO, TINY, make_dataset, train_env

from model.nets.config import TrainConfig
from model.progress import parse_event
from model.registry.modelfile import latest_model, load_model
from model.training.train import TrainingCancelled, train_dataset


def _cli():
    """`python -m labeltool train`: the whole CLI must load (an import failure fails the test)."""
    return ["-m", "labeltool", "train"]


def test_cli_json_stream_is_parseable_and_complete(tmp_path):
    root = make_dataset(tmp_path / "ds")
    cmd = [sys.executable, *_cli(), str(root), "--json", "--epochs", "2", "--encoder", "resnet18",
           "--encoder-weights", "none", "--size", "64", "--scale", "1", "--batch-size", "2", "--threads", "2"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=train_env(), timeout=180)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    events = [parse_event(line) for line in lines]
    assert all(events), f"non-event line on stdout: {lines}"
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    start = events[0]
    assert start["epochs"] == 2 and start["images"] == 4 and start["device"] == "cpu"
    steps = [e for e in events if e["event"] == "step"]
    assert len(steps) == 2 * start["steps_per_epoch"] and all(isinstance(e["loss"], float) for e in steps)
    ends = [e for e in events if e["event"] == "epoch_end"]
    assert [e["epoch"] for e in ends] == [1, 2]
    assert 0 <= ends[-1]["metrics"]["pixel_accuracy"] <= 1 and "miou" in ends[-1]["metrics"]
    model = Path(events[-1]["model"])
    assert model.is_file() and model.parent == root / "models"
    assert load_model(model).card["classes"] == CODES
    assert not (root / "models" / ".checkpoint").exists()  # removed once the model is saved


def test_cli_error_is_one_json_event(tmp_path):
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "codes.txt").write_text("A\nB\n")
    out = subprocess.run([sys.executable, *_cli(), str(empty), "--json", "--encoder-weights", "none"], cwd=REPO,
                         capture_output=True, text=True, env=train_env(), timeout=120)
    assert out.returncode != 0
    events = [parse_event(line) for line in out.stdout.splitlines()]
    assert [e["event"] for e in events] == ["error"] and "no corrected masks" in events[0]["message"]


def test_sigterm_cancels_cleanly_with_an_error_event(tmp_path):
    root = make_dataset(tmp_path / "ds")
    cmd = [sys.executable, "-m", "labeltool.commands.train", str(root), "--json", "--epochs", "500", "--encoder",
           "resnet18", "--encoder-weights", "none", "--size", "64", "--scale", "1", "--threads", "2"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=train_env())
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if (parse_event(line) or {}).get("event") == "step":
            proc.terminate()
            break
    lines += proc.stdout.readlines()
    assert proc.wait(timeout=60) == 130
    last = parse_event(lines[-1])
    assert last["event"] == "error" and "cancelled" in last["message"]
    assert latest_model(root / "models") is None


def test_interrupted_run_resumes_from_last_epoch(tmp_path):
    root = make_dataset(tmp_path / "ds")
    cfg = TrainConfig(**TINY, epochs=3)
    first = []

    def cancel_after_epoch_1():
        return any(e["event"] == "epoch_end" for e in first)

    with pytest.raises(TrainingCancelled, match="run it again"):
        train_dataset(root, cfg, on_event=first.append, cancel=cancel_after_epoch_1)
    assert [e["epoch"] for e in first if e["event"] == "epoch_end"] == [1]
    assert (root / "models" / ".checkpoint" / "state.json").is_file()
    assert latest_model(root / "models") is None  # no half-trained model is published
    second = []
    path = train_dataset(root, TrainConfig(**TINY, epochs=3), on_event=second.append)
    start = next(e for e in second if e["event"] == "start")
    assert start["resumed_from_epoch"] == 1
    assert [e["epoch"] for e in second if e["event"] == "epoch_end"] == [2, 3]
    assert path.is_file() and load_model(path).card["training"]["epochs"] == 3
    assert not (root / "models" / ".checkpoint").exists()


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    """Checkpoint = model + optimizer + schedule: the resumed run ends where an uninterrupted one does."""
    a, b = make_dataset(tmp_path / "a"), make_dataset(tmp_path / "b")
    cfg = dict(TINY, epochs=2, augment=False, validate=False, batch_size=4)
    whole = load_model(train_dataset(a, TrainConfig(**cfg))).net
    events = []
    with pytest.raises(TrainingCancelled):
        train_dataset(b, TrainConfig(**cfg), on_event=events.append,
                      cancel=lambda: any(e["event"] == "epoch_end" for e in events))
    resumed = load_model(train_dataset(b, TrainConfig(**cfg))).net
    for (name, p), q in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(p.float(), q.float(), atol=1e-4), name


def test_time_budget_stops_cleanly_and_saves(tmp_path):
    root = make_dataset(tmp_path / "ds")
    events = []
    t = time.monotonic()
    path = train_dataset(root, TrainConfig(**TINY, epochs=10_000, time_budget=4), on_event=events.append)
    took = time.monotonic() - t
    assert took < 40 and path.is_file()  # generous: the test machine's cores are shared
    ends = [e for e in events if e["event"] == "epoch_end"]
    assert 1 <= len(ends) < 10_000 and ends[-1]["epochs"] == len(ends)  # the plan shrank to what fits


def test_retrain_fine_tunes_the_latest_model_of_the_same_classes(tmp_path):
    root = make_dataset(tmp_path / "ds")
    first = train_dataset(root, TrainConfig(**TINY, epochs=1))
    time.sleep(1.1)
    events = []
    cfg = dict(TINY)
    del cfg["arch"], cfg["encoder"]
    second = train_dataset(root, TrainConfig(**cfg, epochs=1), on_event=events.append)
    assert second != first
    assert any(e["event"] == "notice" and first.name in e["message"] for e in events)
    assert load_model(second).card["training"]["fine_tuned_from"] == first.name
    # after the class list changes (on purpose: a hand edit is refused), the old model no longer fits:
    # a fresh model, said in a notice
    from model.project.class_journal import apply
    from model.project.classes import plan_rename
    from model.project.project import Project

    apply(Project.open(root), plan_rename(CODES, "Background", "Bg"))
    events.clear()
    third = train_dataset(root, TrainConfig(**TINY, epochs=1), on_event=events.append)
    assert any("other classes" in e.get("message", "") for e in events)
    assert load_model(third).card["training"]["fine_tuned_from"] is None


def test_out_of_memory_retries_at_half_the_batch(tmp_path, monkeypatch):
    import model.nets.losses as losses

    root = make_dataset(tmp_path / "ds", count=10)
    original = losses.SegLoss.forward

    def forward(self, logits, target):
        if logits.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, logits, target)

    monkeypatch.setattr(losses.SegLoss, "forward", forward)
    events = []
    path = train_dataset(root, TrainConfig(**dict(TINY, batch_size=8), epochs=1), on_event=events.append)
    notices = [e["message"] for e in events if e["event"] == "notice"]
    assert any("out of memory at batch size 8" in n and "retrying with 4" in n for n in notices)
    assert any("batch size 4" in n for n in notices)
    assert next(e for e in events if e["event"] == "start" and e["batch_size"] == 2) and path.is_file()


def test_lr_find_suggests_a_rate_and_draws_a_plot(tmp_path):
    root = make_dataset(tmp_path / "ds")
    plot = tmp_path / "lr.png"
    cmd = [sys.executable, "-c", "import sys; from labeltool.commands import lr_find, train; import argparse;"
           "p = argparse.ArgumentParser(); s = p.add_subparsers(); lr_find.register(s);"
           "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))",
           "lr-find", str(root), "--json", "--encoder", "resnet18", "--encoder-weights", "none", "--size", "64", "--scale", "1",
           "--batch-size", "2", "--iterations", "30", "--plot", str(plot), "--threads", "2"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=train_env(), timeout=180)
    assert out.returncode == 0, out.stderr
    result = [parse_event(x) for x in out.stdout.splitlines() if json.loads(x)["event"] == "lr_find"][0]
    assert 1e-7 <= result["suggestion"] <= 10 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert latest_model(root / "models") is None  # the sweep leaves the dataset's models alone


@pytest.mark.slow
def test_two_process_ddp_run_on_cpu(tmp_path):
    root = make_dataset(tmp_path / "ds", count=10)
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "labeltool.commands.train",
           str(root), "--json", "--epochs", "2", "--encoder", "resnet18", "--encoder-weights", "none",
           "--size", "64", "--scale", "1", "--batch-size", "2", "--threads", "1"]
    t = time.monotonic()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=train_env(), timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert time.monotonic() - t < 60
    events = [e for e in map(parse_event, out.stdout.splitlines()) if e]
    kinds = [e["event"] for e in events]
    assert kinds.count("start") == 1 and kinds.count("done") == 1  # only rank 0 speaks
    start = events[kinds.index("start")]
    assert start["world_size"] == 2 and start["steps_per_epoch"] == 2  # 8 images over 2 ranks, batch 2
    assert len(list((root / "models").glob("model-*.safetensors"))) == 1
