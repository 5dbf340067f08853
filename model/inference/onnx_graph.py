"""The network as an ONNX graph beside its weights, and the runtimes that run it.

    model-X.onnx         fp32 graph of the bare network: opset 17, dynamic batch/height/width axes,
                         its logits checked against torch's (``check_onnx``) before it is named in the card

``export_onnx`` writes the graph (atomically); ``TorchRuntime`` and ``OrtRuntime`` run a network or a
graph behind one interface (``Runtime.run``); ``check_onnx`` compares two runtimes' logits and ``measure``
times them. Which runtime proposes is chosen in model.inference.runtime; int8 quantization is in model.inference.int8.
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from model.atomic import atomic_write
from model.nets.fuse import fold_batchnorm_checked
from model.nets.networks import ScaledInput

ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "logits"
LOGIT_TOLERANCE = 1e-3  # max |onnx - torch| relative to the largest logit
TORCH, ORT, ORT_INT8 = "torch", "onnxruntime", "onnxruntime-int8"


# ---- threads ----------------------------------------------------------------------------------------
def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads counted once)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        base = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((base / "physical_package_id").read_text().strip(), (base / "core_id").read_text().strip()))
        except OSError:
            cores.add(("?", str(cpu)))
    return max(1, len(cores))


# ---- the network ------------------------------------------------------------------------------------
def net_and_card(model) -> tuple[torch.nn.Module, dict]:
    """The bare network (ScaledInput unwrapped: the Predictor scales) and the card of a LoadedModel or module."""

    net = getattr(model, "net", model)
    card = getattr(model, "card", None) or {}
    if isinstance(net, ScaledInput):
        net = net.net
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"expected a LoadedModel or an nn.Module, got {type(model).__name__}")
    return net, card


def in_channels(net: torch.nn.Module, card: dict) -> int:
    if card.get("in_channels"):
        return int(card["in_channels"])
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            return int(module.in_channels)
    return 3


def cpu_copy(net: torch.nn.Module) -> torch.nn.Module:
    param = next(net.parameters(), None)
    if param is not None and param.device.type != "cpu":
        return copy.deepcopy(net).cpu().eval()
    return net.eval()


def export_onnx(loaded_model, path: str | Path, *, sample_hw: tuple[int, int] = (64, 96)) -> Path:
    """Export the bare network of ``loaded_model`` (a LoadedModel or an nn.Module) to ONNX at ``path``
    (atomically): opset 17, input "input" (N, C, H, W) float32, output "logits" (N, classes, H, W),
    with dynamic batch, height and width (H and W multiples of 32, as the Predictor pads them).

    Uses torch's TorchScript-based exporter (needs only the ``onnx`` package; a few seconds); where a
    torch no longer has it, the torch.export-based one (which needs ``onnxscript``).
    """
    net, card = net_and_card(loaded_model)
    net = cpu_copy(net)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.randn(1, in_channels(net, card), *sample_hw)
    axes = {0: "batch", 2: "height", 3: "width"}

    def legacy(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(net, (x,), str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes}, do_constant_folding=True)

    def dynamo(tmp: Path) -> None:
        batch = torch.export.Dim("batch", max=1024)
        h32, w32 = torch.export.Dim("h32", min=1, max=512), torch.export.Dim("w32", min=1, max=512)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (x,), str(tmp), dynamo=True, opset_version=ONNX_OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], external_data=False,
                              dynamic_shapes={next(iter(_forward_arg_names(net))): {0: batch, 2: 32 * h32, 3: 32 * w32}},
                              verbose=False)

    with torch.no_grad():
        try:
            atomic_write(path, legacy)
        except TypeError:  # a torch without the TorchScript exporter (``dynamo`` no longer accepted False)
            atomic_write(path, dynamo)
    return path


def _forward_arg_names(net: torch.nn.Module) -> list[str]:
    import inspect

    return [p for p in inspect.signature(net.forward).parameters if p != "self"] or ["x"]


# ---- runtimes -----------------------------------------------------------------------------------------
class Runtime:
    """Runs the network: ``run(x)`` maps (N, C, H, W) float32 (numpy or torch) to logits (torch, CPU)."""

    kind = "runtime"

    def run(self, x) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}>"


class TorchRuntime(Runtime):
    """The Predictor's torch path on CPU: inference mode, BatchNorm folded, channels-last."""

    kind = TORCH

    def __init__(self, net: torch.nn.Module, channels_last: bool = True, fuse_bn: bool = True):
        net = cpu_copy(net)
        self.net = fold_batchnorm_checked(net) if fuse_bn else net
        self.channels_last = channels_last
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def run(self, x) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float32)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x).float()


class OrtRuntime(Runtime):
    """onnxruntime, CPUExecutionProvider, all graph optimisations, one thread per physical core.

    ``run`` is thread-safe (onnxruntime sessions are), so a prefetch thread may share it."""

    def __init__(self, path: str | Path, *, threads: int | None = None, kind: str = ORT, spinning: bool = False):
        import onnxruntime as ort

        self.path = Path(path)
        self.kind = kind
        self.threads = threads or physical_cores()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # no busy-waiting between runs: the GUI thread and the annotator's other programs keep the cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, x) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            x = x.detach().to("cpu", torch.float32).contiguous().numpy()
        x = np.ascontiguousarray(x, dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: x})[0])


# ---- checks -------------------------------------------------------------------------------------------
def max_relative_difference(want: torch.Tensor, got: torch.Tensor) -> float:
    if tuple(want.shape) != tuple(got.shape):
        return float("inf")
    scale = max(float(want.abs().max()), 1.0)
    return float((want.float() - got.float()).abs().max()) / scale


def mask_agreement(want: torch.Tensor, got: torch.Tensor) -> float:
    """Share of pixels whose arg-max class is the same in two (N, C, H, W) logits."""
    return float((want.argmax(1) == got.argmax(1)).float().mean())


def check_onnx(reference: Runtime, candidate: Runtime, inputs: Sequence[torch.Tensor],
               tolerance: float = LOGIT_TOLERANCE) -> float:
    """The largest relative logit difference over ``inputs``; ValueError naming the file above ``tolerance``."""
    worst = 0.0
    for x in inputs:
        worst = max(worst, max_relative_difference(reference.run(x), candidate.run(x)))
    if worst > tolerance:
        where = getattr(candidate, "path", candidate.kind)
        raise ValueError(f"{where}: logits differ from torch's by {worst:.2e} of their scale (> {tolerance:g})")
    return worst


def check_inputs(channels: int, seed: int = 0) -> list[torch.Tensor]:
    """Shapes other than the export's, batch 2 included: the dynamic axes are exercised."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, channels, 96, 128, generator=g), torch.randn(2, channels, 64, 160, generator=g)]


# ---- timing ----------------------------------------------------------------------------------------
def _time_ms(fn: Callable[[], object], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def measure(runtimes: dict[str, Runtime], x: torch.Tensor, reps: int = 3) -> dict[str, float]:
    """Best-of-``reps`` milliseconds per run of each runtime on ``x``, interleaved (one warm-up each)."""
    for rt in runtimes.values():
        rt.run(x)
    times = {k: float("inf") for k in runtimes}
    for _ in range(reps):
        for k, rt in runtimes.items():
            times[k] = min(times[k], _time_ms(lambda rt=rt: rt.run(x), 1))
    return times
