"""Entry point of the PyInstaller bundle (packaging/labeltool.spec): the `labeltool` command.

Two things differ from `python -m labeltool` in a frozen app:
- the app starts its training jobs as ``sys.executable -m labeltool train ...``; in the bundle
  ``sys.executable`` is this program, so a leading ``-m labeltool`` is dropped here;
- a CPU-only PyTorch has no matching torchvision wheel on PyPI (PyPI's torchvision is built against
  CUDA PyTorch). Its compiled ops library (NMS, RoI align, image decoding: nothing labeltool calls) then
  cannot load, and torchvision's import would fail on registering fake kernels for ``torchvision::nms``.
  The bundle leaves that library out (the spec) and declares the two op schemas here, without kernels,
  so that the pure-Python part of torchvision (models, transforms) imports. Calling NMS would raise.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _declare_missing_torchvision_ops() -> None:
    base = getattr(sys, "_MEIPASS", None)
    if base is None or os.path.exists(os.path.join(base, "torchvision", "_C.so")):
        return  # a torchvision whose ops library is bundled needs nothing
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _declare_missing_torchvision_ops.lib = lib  # keep the registration alive


def _selftest_runtime() -> int:
    """``labeltool --selftest-runtime`` (bundle only, for packaging/smoke.sh): the proposal runtime works
    frozen: a U-Net is exported to ONNX and onnxruntime gives torch's logits."""
    import tempfile
    from pathlib import Path

    import onnxruntime

    from model.inference import onnx_graph as rt
    from model.nets.networks import make_net

    net = make_net("Unet", "resnet18", 3).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = rt.export_onnx(net, Path(tmp) / "model.onnx")
        diff = rt.check_onnx(rt.TorchRuntime(net), rt.OrtRuntime(path), rt.check_inputs(3))
    print(f"runtime self-test: ONNX export + onnxruntime {onnxruntime.__version__} "
          f"{onnxruntime.get_available_providers()} ok, max logit difference {diff:.1e} of scale")
    return 0


def main() -> int:
    multiprocessing.freeze_support()
    if sys.argv[1:3] == ["-m", "labeltool"]:
        del sys.argv[1:3]
    _declare_missing_torchvision_ops()
    if sys.argv[1:2] == ["--selftest-runtime"]:
        return _selftest_runtime()
    from labeltool.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
