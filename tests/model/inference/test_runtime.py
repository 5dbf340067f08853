"""model.inference.runtime: ONNX export beside the model, onnxruntime proposals, the measured choice, never fatal."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from model.inference import runtime as rt
from model.inference.int8 import quantize_int8
from model.inference.onnx_graph import (
    LOGIT_TOLERANCE,
    ORT,
    ORT_INT8,
    TORCH,
    OrtRuntime,
    TorchRuntime,
    check_onnx,
    export_onnx,
    mask_agreement,
    max_relative_difference,
)
from model.inference.predict import Predictor
from model.nets.networks import make_net, normalization
from model.registry.modelfile import (
    choice_path,
    derived_files,
    load_model,
    make_card,
    onnx_path,
    read_card,
    save_model,
    sha256_file,
)
from model.registry.registry import prune_models

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


class Tiny(nn.Module):
    """Conv-BN-ReLU-Conv: exports in well under a second."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, classes, 1))

    def forward(self, x):
        return self.body(x)


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    net = Tiny()
    with torch.no_grad():
        bn = net.body[1]
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    torch.manual_seed(0)
    models = tmp_path_factory.mktemp("ds") / "models"
    card = make_card(arch="Unet", encoder="resnet18", classes=["a", "b", "c"], void_index=None,
                     normalization=normalization(), input_size=[64, 64], training_images=["x"])
    return save_model(models, make_net("Unet", "resnet18", 3), card)


@pytest.fixture(scope="module")
def exported(saved_model):
    """The model after the end-of-training export (once for the module: it takes seconds)."""
    mtime = saved_model.with_suffix(".json").stat().st_mtime_ns
    choice = rt.after_training_export(saved_model, int8=False)
    assert choice is not None
    return saved_model, choice, mtime


def _image(h=70, w=90, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_exported_graph_gives_torchs_logits_at_other_sizes_and_batches(tmp_path):
    net = _tiny()
    path = export_onnx(net, tmp_path / "tiny.onnx")
    ort_rt = OrtRuntime(path, threads=1)
    for shape in [(1, 3, 96, 128), (3, 3, 32, 224)]:  # not the export's (1, 3, 64, 96)
        x = torch.randn(*shape)
        with torch.no_grad():
            want = net(x)
        got = ort_rt.run(x)
        assert got.shape == want.shape
        assert max_relative_difference(want, got) < LOGIT_TOLERANCE


def test_predictor_with_onnx_runtime_gives_the_same_masks(tmp_path):
    net = _tiny()
    ort_rt = OrtRuntime(export_onnx(net, tmp_path / "tiny.onnx"), threads=1)
    image = _image()
    a = Predictor(net, device="cpu").predict(image)
    b = Predictor(net, device="cpu", runtime=ort_rt).predict(image)
    assert (a.mask == b.mask).mean() > 0.999
    assert np.abs(a.confidence - b.confidence).max() < 1e-3


def test_a_graph_that_disagrees_with_torch_is_refused(tmp_path):
    net = _tiny()
    path = export_onnx(net, tmp_path / "tiny.onnx")
    other = _tiny()
    with torch.no_grad():
        other.body[3].weight.mul_(-1)
    with pytest.raises(ValueError, match="tiny.onnx"):
        check_onnx(TorchRuntime(other), OrtRuntime(path, threads=1), rt._check_inputs(3))


def test_after_training_export_names_the_onnx_in_the_card_and_records_the_choice(exported):
    saved_model, choice, mtime = exported
    assert choice["choice"] in (TORCH, ORT)
    card = read_card(saved_model)
    assert card["onnx"]["file"] == saved_model.with_suffix(".onnx").name
    assert card["onnx"]["opset"] == 17
    assert card["onnx"]["sha256"] == sha256_file(onnx_path(saved_model))
    assert saved_model.with_suffix(".json").stat().st_mtime_ns == mtime  # the models' order is unchanged
    recorded = json.loads(choice_path(saved_model).read_text())
    assert set(recorded["timings_ms"]) == {TORCH, ORT}
    assert recorded["machine"] == rt.machine_fingerprint()


def test_recorded_choice_is_reused_without_measuring(exported, monkeypatch):
    saved_model = exported[0]
    recorded = json.loads(choice_path(saved_model).read_text())
    monkeypatch.setattr(rt, "measure", lambda *a, **k: pytest.fail("measured again"))
    loaded = load_model(saved_model)
    assert rt.choose_runtime(loaded, (1, 3, 64, 64)).kind == recorded["choice"]


def test_forced_onnx_choice_proposes_through_onnxruntime_and_a_tampered_file_is_not_run(exported, monkeypatch):
    saved_model = exported[0]
    path = choice_path(saved_model)
    record = json.loads(path.read_text())
    record["choice"] = ORT
    path.write_text(json.dumps(record))
    rt._runtime_cache.clear()
    loaded = load_model(saved_model)
    chosen = rt.proposal_runtime(loaded, "cpu")
    assert chosen is not None and chosen.kind == ORT
    a = Predictor(loaded, device="cpu").predict(_image(64, 64))
    b = Predictor(loaded, device="cpu", runtime=chosen).predict(_image(64, 64))
    assert (a.mask == b.mask).mean() > 0.999
    # another graph in its place: the recorded SHA-256 no longer matches, so it is checked and re-measured
    export_onnx(_tiny(), onnx_path(saved_model))
    monkeypatch.setattr(rt, "measure", lambda *a, **k: pytest.fail("a wrong graph reached the timing"))
    assert rt.choose_runtime(loaded, (1, 3, 64, 64), on_event=lambda e: None).kind == TORCH
    monkeypatch.setenv("LABELTOOL_RUNTIME", "torch")
    rt._runtime_cache.clear()
    assert rt.proposal_runtime(loaded, "cpu") is None


def test_a_model_from_before_the_export_gets_its_onnx_at_the_first_proposal(tmp_path):
    card = make_card(arch="Unet", encoder="resnet18", classes=["a", "b"], void_index=None,
                     normalization=normalization(), input_size=[64, 64], training_images=["x"])
    weights = save_model(tmp_path / "models", make_net("Unet", "resnet18", 2), card)
    rt._runtime_cache.clear()
    rt.proposal_runtime(load_model(weights), "cpu")
    assert onnx_path(weights).is_file()
    assert read_card(weights)["onnx"]["sha256"] == sha256_file(onnx_path(weights))
    assert json.loads(choice_path(weights).read_text())["choice"] in (TORCH, ORT)


def test_failed_export_is_a_notice_never_an_error(saved_model, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(torch.onnx, "export", broken)
    events = []
    assert rt.after_training_export(saved_model, on_event=events.append) is None
    assert events and events[0]["event"] == "notice" and "exporter exploded" in events[0]["message"]
    assert load_model(saved_model).card["classes"] == ["a", "b", "c"]


def test_int8_quantization_runs_and_roughly_agrees(tmp_path):
    net = _tiny()
    fp32 = export_onnx(net, tmp_path / "tiny.onnx")
    calib = [np.random.default_rng(i).standard_normal((1, 3, 32, 32)).astype(np.float32) for i in range(3)]
    q = quantize_int8(fp32, tmp_path / "tiny.int8.onnx", calib)
    x = torch.from_numpy(calib[0])
    with torch.no_grad():
        want = net(x)
    assert mask_agreement(want, OrtRuntime(q, threads=1, kind=ORT_INT8).run(x)) > 0.8


def test_pruning_a_model_removes_its_onnx_files(tmp_path):
    models = tmp_path / "models"
    card = make_card(arch="Unet", encoder="resnet18", classes=["a", "b"], void_index=None,
                     normalization=normalization(), input_size=[64, 64], training_images=["x"])
    net = make_net("Unet", "resnet18", 2)
    first = save_model(models, net, card)
    for path in derived_files(first):
        path.write_bytes(b"x")
    import os
    import time

    old = time.time() - 100
    os.utime(first.with_suffix(".json"), (old, old))
    save_model(models, net, card)
    prune_models(models, 1)
    assert not any(p.exists() for p in [first, *derived_files(first)])
