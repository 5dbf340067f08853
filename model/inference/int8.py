"""int8 static quantization of the exported graph, kept only when it gives torch's masks and is faster.

    model-X.int8.onnx    calibrated on the project's corrected images (as the Predictor feeds the network),
                         written only when its masks agree >= 99.5 % with torch's on held-out images and
                         it runs faster than both torch and fp32 onnxruntime here

``after_training_export`` (model.inference.runtime) calls ``try_int8`` and records its figures in the runtime choice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.atomic import atomic_write
from model.images.imageio import read_image
from model.project.project import Project
from model.registry.modelfile import int8_path, onnx_path

from .onnx_graph import (
    INPUT_NAME,
    ORT,
    ORT_INT8,
    TORCH,
    OrtRuntime,
    Runtime,
    TorchRuntime,
    mask_agreement,
    measure,
    net_and_card,
)
from .predict import Predictor

log = logging.getLogger(__name__)

INT8_MIN_AGREEMENT = 0.995  # share of mask pixels equal to the torch path's


def _last_conv(path: Path) -> list[str]:
    """The name of the graph's last Conv (the segmentation head), kept in fp32: on a trained U-Net/ResNet18
    it raised the masks' agreement with torch from 99.31 to 99.44-99.46 % at the same speed (8 CamVid frames,
    benchmarks/README_inference.md); MinMax over 8 calibration inputs instead of 4 added 0.05 points."""
    import onnx

    convs = [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type == "Conv"]
    return convs[-1:]


def quantize_int8(fp32_path: str | Path, out_path: str | Path, calibration: Sequence[np.ndarray]) -> Path:
    """Static int8 quantization (QDQ, per-channel weights, MinMax calibration on ``calibration``, a few
    (1, C, H, W) float32 network inputs) of an fp32 ONNX file, the segmentation head left in fp32;
    written atomically to ``out_path``."""
    import tempfile

    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("int8 quantization needs at least one calibration input")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{INPUT_NAME: np.ascontiguousarray(c, dtype=np.float32)} for c in calibration])

        def get_next(self):
            return next(self._it, None)

    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="labeltool-int8-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=False)
        head = _last_conv(pre)  # the class scores: where near-ties flip a pixel's class

        def write(target: Path) -> None:
            # reduce_range: 7-bit weights, so AVX2 CPUs without VNNI cannot saturate their int16 sums
            quantize_static(str(pre), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=head)

        atomic_write(out_path, write)
    return out_path


# ---- from the project's images ---------------------------------------------------------------------
def calibration_inputs(loaded, project_root: Path, limit: int, torch_rt: TorchRuntime) -> list[np.ndarray]:
    """Network inputs (exactly as the Predictor makes them) for up to ``limit`` of the project's images,
    corrected ones first (calibration needs no labels, only images like the ones the model will see)."""

    project = Project.open(project_root)
    names = project.corrected_names()[:limit]
    if len(names) < limit:  # e.g. a model brought into a project nobody has corrected yet
        taken = set(names)
        names += [n for n in project.names() if n not in taken][:limit - len(names)]
    captured: list[np.ndarray] = []

    class Capture(Runtime):
        kind = "capture"

        def run(self, x) -> torch.Tensor:
            captured.append(torch.as_tensor(x).detach().float().contiguous().numpy().copy())
            return torch_rt.run(x)

    predictor = Predictor(loaded, device="cpu", runtime=Capture())  # large images: their tiles
    for name in names:
        try:
            predictor.predict(read_image(project.image_path(name)))
        except Exception as exc:  # an unreadable image is left out of the calibration
            log.info("calibration: %s skipped (%s)", name, exc)
    return [c[i:i + 1] for c in captured for i in range(c.shape[0])]


def try_int8(loaded, calibration: list[np.ndarray], *, held_out: int | None = None, threads: int | None = None,
             reps: int = 3, torch_runtime: TorchRuntime | None = None) -> dict[str, Any]:
    """Quantize to ``int8_path`` calibrated on part of ``calibration`` and measure it on the rest (on all
    when there are fewer than 4): mask agreement with torch, and speed against fp32 onnxruntime and torch.
    The file is kept only when it agrees >= INT8_MIN_AGREEMENT and is faster than both; the figures are
    returned (and recorded in the runtime choice by ``after_training_export``)."""
    weights = Path(loaded.path)
    fp32 = onnx_path(weights)
    n = len(calibration)
    held_out = held_out if held_out is not None else (n // 3 if n >= 4 else 0)
    calib, test = (calibration[:n - held_out], calibration[n - held_out:]) if held_out else (calibration, calibration)
    out = int8_path(weights)
    started = time.perf_counter()
    quantize_int8(fp32, out, calib)
    figures: dict[str, Any] = {"calibration_inputs": len(calib), "test_inputs": len(test),
                               "test_held_out": bool(held_out), "quantize_seconds": round(time.perf_counter() - started, 1)}
    torch_rt = torch_runtime or TorchRuntime(net_and_card(loaded)[0])
    int8 = OrtRuntime(out, threads=threads, kind=ORT_INT8)
    fp32_rt = OrtRuntime(fp32, threads=threads)
    agree = [mask_agreement(torch_rt.run(x), int8.run(x)) for x in test]
    figures["mask_agreement"] = float(np.mean(agree)) if agree else 0.0
    figures["mask_agreement_min"] = float(np.min(agree)) if agree else 0.0
    x = torch.from_numpy(test[0])
    figures["timings_ms"] = {k: round(v, 2) for k, v in
                             measure({TORCH: torch_rt, ORT: fp32_rt, ORT_INT8: int8}, x, reps).items()}
    t = figures["timings_ms"]
    figures["kept"] = bool(figures["mask_agreement"] >= INT8_MIN_AGREEMENT and t[ORT_INT8] < min(t[TORCH], t[ORT]))
    if not figures["kept"]:
        out.unlink(missing_ok=True)
    return figures
