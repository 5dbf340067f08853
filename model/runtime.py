"""The proposal runtime, chosen by measurement: torch, or onnxruntime on CPU when it is faster here.

At the end of a retrain the network is exported to ONNX beside its weights (``after_training_export``):

    model-X.safetensors      the weights (the truth; see model.modelfile)
    model-X.json             the card; names the ONNX file ("onnx": {"file", "opset", "sha256", ...})
    model-X.onnx             fp32 graph of the bare network: opset 17, dynamic batch/height/width axes,
                             its logits checked against torch's before it is named in the card
    model-X.int8.onnx        int8 static quantization calibrated on the project's corrected images,
                             written only when its masks agree >= 99.5 % with torch's on held-out images
    model-X.runtime.json     which runtime proposes on this machine, with the timings that chose it

``choose_runtime`` times the candidates once per model and machine (the choice is recorded with the
machine's fingerprint and reused until the CPU, thread count or library versions change) and returns
the fastest; ``proposal_runtime`` is what the proposer calls: an onnxruntime ``Runtime`` for
``Predictor(runtime=...)``, or None for the Predictor's own torch path. Nothing here is ever fatal
to training or proposing: a failed export or check is a notice and torch proposes as before.

Only ONNX files this module wrote are run (their SHA-256 is in the card); nothing is unpickled.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import platform
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "logits"
LOGIT_TOLERANCE = 1e-3  # max |onnx - torch| relative to the largest logit
INT8_MIN_AGREEMENT = 0.995  # share of mask pixels equal to the torch path's
CHOICE_VERSION = 1
TORCH, ORT, ORT_INT8 = "torch", "onnxruntime", "onnxruntime-int8"


# ---- files ----------------------------------------------------------------------------------------
def onnx_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".onnx")


def int8_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".int8.onnx")


def choice_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".runtime.json")


def derived_files(weights: str | Path) -> list[Path]:
    """Files this module may write beside a model's weights (removed with the model)."""
    return [onnx_path(weights), int8_path(weights), choice_path(weights)]


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- machine ----------------------------------------------------------------------------------------
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


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_fingerprint(threads: int | None = None) -> dict[str, Any]:
    """What a timing depends on; a recorded choice is reused only on an identical fingerprint."""
    import onnxruntime

    return {"cpu": _cpu_name(), "machine": platform.machine(), "threads": threads or physical_cores(),
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


# ---- the network ------------------------------------------------------------------------------------
def _net_and_card(model) -> tuple[torch.nn.Module, dict]:
    """The bare network (ScaledInput unwrapped: the Predictor scales) and the card of a LoadedModel or module."""
    from .networks import ScaledInput

    net = getattr(model, "net", model)
    card = getattr(model, "card", None) or {}
    if isinstance(net, ScaledInput):
        net = net.net
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"expected a LoadedModel or an nn.Module, got {type(model).__name__}")
    return net, card


def _in_channels(net: torch.nn.Module, card: dict) -> int:
    if card.get("in_channels"):
        return int(card["in_channels"])
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            return int(module.in_channels)
    return 3


def _cpu_copy(net: torch.nn.Module) -> torch.nn.Module:
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
    net, card = _net_and_card(loaded_model)
    net = _cpu_copy(net)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.randn(1, _in_channels(net, card), *sample_hw)
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
        from .fuse import fold_batchnorm_checked

        net = _cpu_copy(net)
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


def _check_inputs(channels: int, seed: int = 0) -> list[torch.Tensor]:
    """Shapes other than the export's, batch 2 included: the dynamic axes are exercised."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, channels, 96, 128, generator=g), torch.randn(2, channels, 64, 160, generator=g)]


# ---- int8 ---------------------------------------------------------------------------------------------
def quantize_int8(fp32_path: str | Path, out_path: str | Path, calibration: Sequence[np.ndarray]) -> Path:
    """Static int8 quantization (QDQ, per-channel weights, MinMax calibration on ``calibration``, a few
    (1, C, H, W) float32 network inputs) of an fp32 ONNX file; written atomically to ``out_path``."""
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

        def write(target: Path) -> None:
            # reduce_range: 7-bit weights, so AVX2 CPUs without VNNI cannot saturate their int16 sums
            quantize_static(str(pre), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)

        atomic_write(out_path, write)
    return out_path


# ---- choosing -----------------------------------------------------------------------------------------
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


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _recorded_choice(weights: Path, threads: int) -> str | None:
    """The recorded choice when it was made on this machine for these very files; else None."""
    choice = _read_json(choice_path(weights))
    if not choice or choice.get("version") != CHOICE_VERSION or choice.get("machine") != machine_fingerprint(threads):
        return None
    if choice.get("weights_sha256") != _weights_sha(weights):
        return None
    kind = choice.get("choice")
    if kind == TORCH:
        return kind
    file = onnx_path(weights) if kind == ORT else int8_path(weights) if kind == ORT_INT8 else None
    if file is None or not file.is_file() or sha256_file(file) != choice.get("files", {}).get(kind):
        return None
    return kind


_sha_cache: dict[tuple[str, int, int], str] = {}


def _weights_sha(weights: Path) -> str | None:
    try:
        st = weights.stat()
    except OSError:
        return None
    key = (str(weights), st.st_mtime_ns, st.st_size)
    if key not in _sha_cache:
        _sha_cache[key] = sha256_file(weights)
    return _sha_cache[key]


def choose_runtime(loaded_model, sample_shape: Sequence[int] = (1, 3, 352, 480), *, onnx_file: str | Path | None = None,
                   threads: int | None = None, reps: int = 3, record: bool = True, force: bool = False,
                   on_event: Callable[[dict], None] | None = None,
                   torch_runtime: TorchRuntime | None = None) -> Runtime:
    """The fastest runtime on this machine for ``loaded_model`` among those that give torch's answer:
    torch (``TorchRuntime``), onnxruntime fp32 and (when ``after_training_export`` kept one) int8.

    The ONNX file is ``onnx_file`` or the one beside the model's weights (exported when missing). The
    fp32 graph must match torch's logits within LOGIT_TOLERANCE on two shapes; int8 is a candidate only
    when its recorded mask agreement is >= INT8_MIN_AGREEMENT. Timed once per model and machine at
    ``sample_shape`` (N, C, H, W; H and W multiples of 32), best of ``reps``; the choice and timings go
    to ``model-X.runtime.json`` unless ``record`` is False, and are reused (no timing) unless ``force``.
    On CUDA, or when onnxruntime is missing or fails, the answer is torch's. ``torch_runtime``: a
    TorchRuntime of the same network already made (saves folding it again)."""
    net, card = _net_and_card(loaded_model)
    threads = threads or physical_cores()
    weights = Path(loaded_model.path) if getattr(loaded_model, "path", None) else None
    param = next(net.parameters(), None)
    if param is not None and param.device.type != "cpu":
        return TorchRuntime(net)  # GPU: torch fp16 (the Predictor's autocast); ORT's CUDA provider not compared
    if weights is not None and not force and onnx_file is None:
        kind = _recorded_choice(weights, threads)
        if kind == TORCH:
            return torch_runtime or TorchRuntime(net)
        if kind is not None:
            try:
                return OrtRuntime(onnx_path(weights) if kind == ORT else int8_path(weights), threads=threads, kind=kind)
            except Exception as exc:  # measured again below
                _notice(on_event, f"{choice_path(weights)}: recorded runtime {kind} unusable ({exc})")
    torch_rt = torch_runtime or TorchRuntime(net)
    candidates: dict[str, Runtime] = {TORCH: torch_rt}
    report: dict[str, Any] = {"version": CHOICE_VERSION, "machine": machine_fingerprint(threads),
                              "sample_shape": list(sample_shape), "files": {}, "checks": {}}
    path = Path(onnx_file) if onnx_file is not None else onnx_path(weights) if weights is not None else None
    try:
        if path is None:
            raise ValueError("no model file to export beside (pass onnx_file)")
        exported = not path.is_file()
        if exported:
            export_onnx(loaded_model, path)
        ort_rt = OrtRuntime(path, threads=threads)
        diff = check_onnx(torch_rt, ort_rt, _check_inputs(int(sample_shape[1])))
        report["checks"][ORT] = {"max_relative_logit_difference": diff}
        candidates[ORT] = ort_rt
        report["files"][ORT] = sha256_file(path)
        if exported and weights is not None and onnx_file is None:  # a model from before the export: name it now
            _name_in_card(weights, {"file": path.name, "opset": ONNX_OPSET, "sha256": report["files"][ORT],
                                    "max_relative_logit_difference": diff})
    except Exception as exc:
        _notice(on_event, f"onnxruntime not used: {exc}")
    if weights is not None and int8_path(weights).is_file() and ORT in candidates:
        agreement = ((_read_json(choice_path(weights)) or {}).get("int8") or {}).get("mask_agreement")
        if isinstance(agreement, (int, float)) and agreement >= INT8_MIN_AGREEMENT:
            try:
                candidates[ORT_INT8] = OrtRuntime(int8_path(weights), threads=threads, kind=ORT_INT8)
                report["files"][ORT_INT8] = sha256_file(int8_path(weights))
            except Exception as exc:
                _notice(on_event, f"{int8_path(weights)}: int8 model not used ({exc})")
    if len(candidates) == 1:
        return torch_rt
    x = torch.randn(*sample_shape, generator=torch.Generator().manual_seed(1))
    timings = measure(candidates, x, reps)
    best = min(timings, key=timings.get)
    report.update(choice=best, timings_ms={k: round(v, 2) for k, v in timings.items()},
                  speedup_vs_torch=round(timings[TORCH] / timings[best], 3),
                  measured_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    if weights is not None and record:
        old = _read_json(choice_path(weights)) or {}
        if "int8" in old:
            report["int8"] = old["int8"]
        report["weights_sha256"] = _weights_sha(weights)
        try:
            atomic_write_text(choice_path(weights), json.dumps(report, indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            _notice(on_event, f"{choice_path(weights)}: cannot record the runtime choice ({exc})")
    return candidates[best]


def _notice(on_event: Callable[[dict], None] | None, message: str) -> None:
    if on_event is not None:
        on_event({"event": "notice", "message": message})
    else:
        log.warning("notice: %s", message)


# ---- proposer hook --------------------------------------------------------------------------------------
_runtime_cache: dict[tuple, Runtime | None] = {}
_cache_lock = threading.Lock()


def proposal_runtime(loaded_model, device: str | torch.device | None = None, *, sample_shape: Sequence[int] | None = None,
                     on_event: Callable[[dict], None] | None = None) -> Runtime | None:
    """What ``Predictor(loaded, runtime=...)`` should get: an onnxruntime Runtime when it was measured
    faster than torch on this machine for this model, None (the Predictor's torch path) otherwise, on
    CUDA, for a model without a file, or on any failure (a notice). Cached per model file and process."""
    if device is not None and torch.device(device).type != "cpu":
        return None
    if device is None and torch.cuda.is_available():
        return None
    weights = getattr(loaded_model, "path", None)
    if weights is None or os.environ.get("LABELTOOL_RUNTIME", "").lower() == "torch":
        return None
    weights = Path(weights)
    try:
        key = (str(weights), weights.stat().st_mtime_ns)
    except OSError:
        return None
    with _cache_lock:
        if key in _runtime_cache:
            return _runtime_cache[key]
        try:
            shape = sample_shape or _working_shape(loaded_model)
            rt = choose_runtime(loaded_model, shape, on_event=on_event)
        except Exception as exc:
            _notice(on_event, f"{weights}: proposing with torch ({type(exc).__name__}: {exc})")
            rt = None
        if rt is not None and rt.kind == TORCH:
            rt = None
        _runtime_cache[key] = rt
        return rt


def _working_shape(loaded_model) -> tuple[int, int, int, int]:
    """(1, C, H, W) of the model's training crop, rounded up to multiples of 32: the timing's size when
    no project image is at hand (``after_training_export`` times at the size of the project's images)."""
    net, card = _net_and_card(loaded_model)
    size = card.get("input_size") or [352, 480]
    h, w = (int(size[0]), int(size[-1])) if isinstance(size, (list, tuple)) and size else (352, 480)
    h, w = max(32, -(-h // 32) * 32), max(32, -(-w // 32) * 32)
    return (1, _in_channels(net, card), h, w)


# ---- after training -------------------------------------------------------------------------------------
def _calibration_inputs(loaded, project_root: Path, limit: int, torch_rt: TorchRuntime) -> list[np.ndarray]:
    """Network inputs (exactly as the Predictor makes them) for up to ``limit`` corrected images."""
    from .imageio import read_image
    from .predict import Predictor
    from .project import Project

    project = Project.open(project_root)
    names = project.corrected_names()[:limit]
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
    torch_rt = torch_runtime or TorchRuntime(_net_and_card(loaded)[0])
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


def after_training_export(model_path: str | Path, *, on_event: Callable[[dict], None] | None = None,
                          int8: bool = True, calibration_images: int = 8) -> dict[str, Any] | None:
    """Called once a retrained model is saved: export ONNX beside it, check it, name it in the card, try
    int8 (calibrated on the project's corrected images), and measure which runtime proposes fastest here.
    Never raises: any failure is a notice (``on_event({"event": "notice", ...})`` or the log) and the
    model proposes with torch. Returns the recorded choice, or None."""
    if os.environ.get("LABELTOOL_RUNTIME", "").lower() == "torch":  # torch forced: nothing to export or time
        return None
    try:
        from .modelfile import load_model

        weights = Path(model_path)
        started = time.perf_counter()
        loaded = load_model(weights, device="cpu")
        path = export_onnx(loaded, onnx_path(weights))
        torch_rt = TorchRuntime(_net_and_card(loaded)[0])
        ort_rt = OrtRuntime(path)
        diff = check_onnx(torch_rt, ort_rt, _check_inputs(_in_channels(*_net_and_card(loaded))))
        _name_in_card(weights, {"file": path.name, "opset": ONNX_OPSET, "sha256": sha256_file(path),
                                "max_relative_logit_difference": diff})
        int8_figures = None
        calibration: list[np.ndarray] = []
        try:  # the project's corrected images as the network sees them: int8 calibration, the timing's size
            calibration = _calibration_inputs(loaded, weights.parent.parent, calibration_images if int8 else 1, torch_rt)
        except Exception as exc:
            log.info("no calibration images for %s: %s", weights, exc)
        if int8 and calibration:
            try:
                int8_figures = try_int8(loaded, calibration, torch_runtime=torch_rt)
            except Exception as exc:
                int8_figures = {"kept": False, "error": f"{type(exc).__name__}: {exc}"}
                int8_path(weights).unlink(missing_ok=True)
        if int8_figures is not None:
            record = _read_json(choice_path(weights)) or {}
            record["int8"] = int8_figures
            atomic_write_text(choice_path(weights), json.dumps(record, indent=1, sort_keys=True) + "\n")
        # timed at the size the network works at on this project's images (else the training crop)
        shape = tuple(calibration[0].shape) if calibration else _working_shape(loaded)
        rt = choose_runtime(loaded, shape, force=True, on_event=on_event, torch_runtime=torch_rt)
        choice = _read_json(choice_path(weights)) or {"choice": rt.kind}
        choice["export_seconds"] = round(time.perf_counter() - started, 1)
        atomic_write_text(choice_path(weights), json.dumps(choice, indent=1, sort_keys=True) + "\n")
        return choice
    except Exception as exc:  # never fails the training: the model proposes with torch
        _notice(on_event, f"{model_path}: ONNX export skipped, proposals use torch ({type(exc).__name__}: {exc})")
        return None


def _name_in_card(weights: Path, onnx_info: dict[str, Any]) -> None:
    from .modelfile import update_card

    update_card(weights, {"onnx": onnx_info})
