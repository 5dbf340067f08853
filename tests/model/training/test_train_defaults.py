"""One-click defaults, config validation and the progress protocol's reader/renderer (no training)."""

import io
import time

import pytest
import torch
from _train_data import CODES

from model.nets.config import ConfigError, TrainConfig
from model.nets.networks import make_net, normalization
from model.progress import ConsoleProgress, format_event, parse_event
from model.registry.modelfile import make_card, save_model
from model.training.defaults import CPU_TIME_BUDGET, Hardware, resolve_config

CPU2 = Hardware("cpu", 2)
GPU = Hardware("cuda", 16, 80 << 30, "H100")


def _resolve(tmp_path, cfg=None, hw=CPU2, n=25, codes=CODES):
    return resolve_config(cfg, num_images=n, image_wh=(480, 360), hw=hw, models_dir=tmp_path / "models", codes=codes)


def test_cpu_default_is_bounded_in_time_and_sized_for_two_cores(tmp_path):
    cfg, init, notes = _resolve(tmp_path)
    assert init is None and notes == []
    assert cfg.time_budget == CPU_TIME_BUDGET and CPU_TIME_BUDGET + 30 < 300  # start-up and saving fit in 5 min
    assert cfg.encoder == "resnet18" and cfg.scale == 0.5 and cfg.size == [160, 224]
    assert cfg.batch_size == 8 and cfg.amp is False and cfg.channels_last is False
    few, _, _ = _resolve(tmp_path, n=3)
    assert few.batch_size == 3


def test_gpu_default_uses_full_resolution_and_mixed_precision(tmp_path):
    cfg, _, _ = _resolve(tmp_path, hw=GPU)
    assert cfg.encoder == "resnet34" and cfg.scale == 1.0 and cfg.size == [352, 480]
    assert cfg.amp is True and cfg.channels_last is True and cfg.num_workers >= 1


def test_explicit_epochs_without_budget_means_no_time_limit(tmp_path):
    cfg, _, _ = _resolve(tmp_path, TrainConfig(epochs=3))
    assert cfg.epochs == 3 and cfg.time_budget is None


def test_retrain_takes_architecture_and_scale_from_the_latest_model(tmp_path):
    card = make_card(arch="FPN", encoder="resnet18", classes=CODES, void_index=3, normalization=normalization(),
                     input_size=[128, 128], input_scale=0.75, training_images=["a"])
    path = save_model(tmp_path / "models", make_net("FPN", "resnet18", len(CODES)), card)
    cfg, init, _ = _resolve(tmp_path)
    assert init == path and (cfg.arch, cfg.encoder, cfg.scale, cfg.size) == ("FPN", "resnet18", 0.75, [128, 128])
    assert cfg.lr < 2e-3 and cfg.freeze_epochs == 0 and cfg.encoder_weights is None
    # asking for another encoder starts fresh, and says why
    cfg, init, notes = _resolve(tmp_path, TrainConfig(encoder="resnet34"))
    assert init is None and cfg.encoder == "resnet34" and "from scratch" in notes[0]
    # a model of other classes is not fine-tuned
    cfg, init, notes = _resolve(tmp_path, codes=["A", "B"])
    assert init is None and "other classes" in notes[0]


@pytest.mark.parametrize("bad, option", [
    ({"arch": "Segformer9"}, "arch"), ({"size": [100, 64]}, "size"), ({"loss": "hinge"}, "loss"),
    ({"lr": -1.0}, "lr"), ({"encoder_weights": "/no/such/file.safetensors"}, "encoder_weights"),
    ({"epochs": 0}, "epochs"), ({"batchsize": 4}, "batchsize"),
])
def test_bad_options_are_refused_naming_the_option(bad, option):
    with pytest.raises(ConfigError, match=option):
        TrainConfig.from_dict(bad, source="test")


def test_config_round_trips_through_a_dict():
    cfg = TrainConfig(arch="Unet", encoder="resnet18", size=[64, 96], epochs=3, loss="focal")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_parse_event_accepts_events_and_ignores_anything_else():
    line = format_event({"event": "epoch_end", "epoch": 1, "train_loss": float("nan"), "metrics": {"miou": 0.5}})
    assert parse_event(line) == {"event": "epoch_end", "epoch": 1, "train_loss": None, "metrics": {"miou": 0.5}}
    assert parse_event(line.encode() + b"\n")["epoch"] == 1
    for junk in ("", "loading...", "{not json", '{"no_event": 1}', "[1, 2]"):
        assert parse_event(junk) is None
    assert parse_event(format_event({"event": "step", "loss": torch.tensor(0.25)}))["loss"] == 0.25


def test_console_progress_renders_a_run_for_a_person():
    out = io.StringIO()
    show = ConsoleProgress(out)
    show({"event": "notice", "message": "ImageNet weights for resnet18 unavailable offline"})
    show({"event": "start", "epochs": 2, "steps_per_epoch": 2, "images": 4, "device": "cpu"})
    for step in (1, 2):
        show({"event": "step", "epoch": 1, "step": step, "steps": 2, "loss": 1.0 / step})
    show({"event": "epoch_end", "epoch": 1, "epochs": 2, "train_loss": 0.75, "metrics": {"pixel_accuracy": 0.9}})
    show({"event": "done", "model": "/d/models/model-x.safetensors", "seconds": time.monotonic() % 10})
    text = out.getvalue()
    assert "notice: ImageNet" in text and "epoch 1/2" in text and "pixel_accuracy 0.9000" in text
    assert "saved /d/models/model-x.safetensors" in text


def test_small_images_are_not_halved_on_cpu(tmp_path):
    cfg, _, _ = resolve_config(None, num_images=9, image_wh=(256, 192), hw=CPU2, models_dir=tmp_path / "models",
                               codes=CODES)
    assert cfg.scale == pytest.approx(240 / 256) and cfg.size == [160, 224]


def test_time_budget_follows_the_amount_of_data(tmp_path):
    few_small, _, _ = resolve_config(None, num_images=6, image_wh=(256, 192), hw=CPU2,
                                     models_dir=tmp_path / "models", codes=CODES)
    assert 45 <= few_small.time_budget <= 90  # the demo's first retrain takes about a minute
    many, _, _ = _resolve(tmp_path, n=200)
    assert many.time_budget == CPU_TIME_BUDGET  # bounded: the 5-minute promise holds for any dataset
    ten, _, _ = _resolve(tmp_path, n=10)
    assert 45 <= ten.time_budget < CPU_TIME_BUDGET
