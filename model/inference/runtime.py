"""The proposal runtime, chosen by measurement: torch, or onnxruntime on CPU when it is faster here.

At the end of a retrain the network is exported to ONNX beside its weights (``after_training_export``):

    model-X.safetensors      the weights (the truth; see model.registry.modelfile)
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

The graph and the runtimes are in model.inference.onnx_graph, int8 quantization in model.inference.int8 (their public
names are importable from here too). Only ONNX files this package wrote are run (their SHA-256 is in
the card); nothing is unpickled.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.atomic import atomic_write_text
from model.progress import notice
from model.registry.modelfile import choice_path, int8_path, load_model, onnx_path, sha256_file, update_card

from .int8 import INT8_MIN_AGREEMENT, calibration_inputs, try_int8
from .onnx_graph import (
    ONNX_OPSET,
    ORT,
    ORT_INT8,
    TORCH,
    OrtRuntime,
    Runtime,
    TorchRuntime,
    check_inputs,
    check_onnx,
    export_onnx,
    in_channels,
    measure,
    net_and_card,
    physical_cores,
)

__all__ = ["CHOICE_VERSION", "after_training_export", "choose_runtime", "machine_fingerprint", "proposal_runtime"]

_check_inputs = check_inputs  # the name tests/ and benchmarks/ use

log = logging.getLogger(__name__)

CHOICE_VERSION = 1


# ---- machine ---------------------------------------------------------------------------------------
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



# ---- choosing -----------------------------------------------------------------------------------------
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
    net, card = net_and_card(loaded_model)
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
                notice(on_event, f"{choice_path(weights)}: recorded runtime {kind} unusable ({exc})")
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
        diff = check_onnx(torch_rt, ort_rt, check_inputs(int(sample_shape[1])))
        report["checks"][ORT] = {"max_relative_logit_difference": diff}
        candidates[ORT] = ort_rt
        report["files"][ORT] = sha256_file(path)
        if exported and weights is not None and onnx_file is None:  # a model from before the export: name it now
            _name_in_card(weights, {"file": path.name, "opset": ONNX_OPSET, "sha256": report["files"][ORT],
                                    "max_relative_logit_difference": diff})
    except Exception as exc:
        notice(on_event, f"onnxruntime not used: {exc}")
    if weights is not None and int8_path(weights).is_file() and ORT in candidates:
        agreement = ((_read_json(choice_path(weights)) or {}).get("int8") or {}).get("mask_agreement")
        if isinstance(agreement, (int, float)) and agreement >= INT8_MIN_AGREEMENT:
            try:
                candidates[ORT_INT8] = OrtRuntime(int8_path(weights), threads=threads, kind=ORT_INT8)
                report["files"][ORT_INT8] = sha256_file(int8_path(weights))
            except Exception as exc:
                notice(on_event, f"{int8_path(weights)}: int8 model not used ({exc})")
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
            notice(on_event, f"{choice_path(weights)}: cannot record the runtime choice ({exc})")
    return candidates[best]




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
            notice(on_event, f"{weights}: proposing with torch ({type(exc).__name__}: {exc})")
            rt = None
        if rt is not None and rt.kind == TORCH:
            rt = None
        _runtime_cache[key] = rt
        return rt


def _working_shape(loaded_model) -> tuple[int, int, int, int]:
    """(1, C, H, W) of the model's training crop, rounded up to multiples of 32: the timing's size when
    no project image is at hand (``after_training_export`` times at the size of the project's images)."""
    net, card = net_and_card(loaded_model)
    size = card.get("input_size") or [352, 480]
    h, w = (int(size[0]), int(size[-1])) if isinstance(size, (list, tuple)) and size else (352, 480)
    h, w = max(32, -(-h // 32) * 32), max(32, -(-w // 32) * 32)
    return (1, in_channels(net, card), h, w)



# ---- after training -------------------------------------------------------------------------------------
def after_training_export(model_path: str | Path, *, on_event: Callable[[dict], None] | None = None,
                          int8: bool = True, calibration_images: int = 8) -> dict[str, Any] | None:
    """Called once a retrained model is saved: export ONNX beside it, check it, name it in the card, try
    int8 (calibrated on the project's corrected images), and measure which runtime proposes fastest here.
    Never raises: any failure is a notice (``on_event({"event": "notice", ...})`` or the log) and the
    model proposes with torch. Returns the recorded choice, or None."""
    if os.environ.get("LABELTOOL_RUNTIME", "").lower() == "torch":  # torch forced: nothing to export or time
        return None
    try:

        weights = Path(model_path)
        started = time.perf_counter()
        loaded = load_model(weights, device="cpu")
        path = export_onnx(loaded, onnx_path(weights))
        torch_rt = TorchRuntime(net_and_card(loaded)[0])
        ort_rt = OrtRuntime(path)
        diff = check_onnx(torch_rt, ort_rt, check_inputs(in_channels(*net_and_card(loaded))))
        _name_in_card(weights, {"file": path.name, "opset": ONNX_OPSET, "sha256": sha256_file(path),
                                "max_relative_logit_difference": diff})
        int8_figures = None
        calibration: list[np.ndarray] = []
        try:  # the project's corrected images as the network sees them: int8 calibration, the timing's size
            calibration = calibration_inputs(loaded, weights.parent.parent, calibration_images if int8 else 1, torch_rt)
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
        notice(on_event, f"{model_path}: ONNX export skipped, proposals use torch ({type(exc).__name__}: {exc})")
        return None


def _name_in_card(weights: Path, onnx_info: dict[str, Any]) -> None:
    update_card(weights, {"onnx": onnx_info})
