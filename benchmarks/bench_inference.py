"""Inference latency on CPU: plain smp eager fp32, labeltool's torch path and its onnxruntime path, one run.

Network: U-Net with a ResNet18 encoder (what the one-click retrain trains on CPU; ``--encoder resnet34``
for the GPU default), 12 classes, random initialisation (BatchNorm statistics randomised as after
training), or a trained labeltool model (``--model``: the honest case, since a trained network's logits
are far from ties and int8 is judged on it). Every path does the whole
job: uint8 images -> normalised tensor -> network -> softmax -> class mask + confidence as numpy.

- ``eager``: what a user writes with smp: ``with torch.no_grad(): net(x)``, NCHW fp32 (the baseline);
- ``torch``: ``Predictor.predict_many`` as the app runs it without an ONNX file (inference mode,
  BatchNorm folded, channels-last, padded to a multiple of 32);
- ``onnxruntime``: the same Predictor with ``runtime=OrtRuntime(...)`` (model/inference/runtime.py): the network
  exported to ONNX (opset 17, dynamic axes), CPUExecutionProvider, ORT_ENABLE_ALL, one thread per
  physical core;
- ``onnxruntime-int8`` (``--int8``): static int8 quantization calibrated on a few images (CamVid frames
  from ../shared/camvid11 when present, else generated ones), its masks measured on other images.

Mask agreement is against the torch path (what the app shows today), on real CamVid ``val`` frames
resized to each size (generated scenes without ../shared). Timings interleave the paths,
one warm-up each, so background load hits all alike; ms per image, median and best of ``--reps``.

    nice -n 10 .venv/bin/python benchmarks/bench_inference.py [--threads 2] [--reps 3] [--int8] [--quick]

Prints a table and writes benchmarks/results/inference.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.inference import runtime as rt  # noqa: E402
from model.inference.int8 import quantize_int8  # noqa: E402
from model.inference.onnx_graph import (  # noqa: E402
    ONNX_OPSET,
    ORT_INT8,
    OrtRuntime,
    Runtime,
    TorchRuntime,
    check_onnx,
    export_onnx,
    physical_cores,
)
from model.inference.predict import Predictor  # noqa: E402
from model.nets.normalization import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402

CAMVID = ROOT.parent / "shared" / "camvid11"
SIZES = [(240, 320), (352, 480), (720, 960)]


def make_net(encoder: str = "resnet18", classes: int = 12) -> torch.nn.Module:
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    net = smp.Unet(encoder, encoder_weights=None, classes=classes)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def eager_fn(net: torch.nn.Module, mean, std):
    mean = torch.tensor(mean).view(1, 3, 1, 1)
    std = torch.tensor(std).view(1, 3, 1, 1)

    def run(images: list[np.ndarray]):
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
        x = (x - mean) / std
        with torch.no_grad():
            probs = torch.softmax(net(x), dim=1)
            conf, cls = probs.max(dim=1)
        return list(zip(cls.to(torch.uint8).numpy(), conf.numpy(), strict=True))

    return run


def predictor_fn(predictor: Predictor):
    return lambda images: predictor.predict_batch(images)


def real_images(count: int, seed: int = 0) -> list[np.ndarray]:
    """CamVid frames when present (read with the app's reader), else generated street-like scenes."""
    from PIL import Image

    folder = CAMVID / "val"
    if folder.is_dir():
        files = sorted(folder.glob("*.png"))
        step = max(1, len(files) // count)  # spread over the sequence; seed shifts the pick (disjoint sets)
        return [np.asarray(Image.open(f).convert("RGB")) for f in files[seed % step::step][:count]]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        im = np.zeros((360, 480, 3), np.uint8)
        im[:150] = (128, 128, 128)
        im[150:260] = rng.integers(40, 120, 3)
        im[260:] = (128, 64, 128)
        im = np.clip(im.astype(int) + rng.integers(-20, 20, im.shape), 0, 255).astype(np.uint8)
        out.append(im)
    return out


def resize(image: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))


class OpenVinoTrial(Runtime):
    """OpenVINO's CPU plugin on the exported ONNX file, fp32 precision forced (no bf16 shortcuts), latency
    hint, the same thread count; dynamic shapes as exported. Tried here before it is offered to the app."""

    kind = "openvino"

    def __init__(self, onnx_file: Path, threads: int):
        import openvino as ov

        core = ov.Core()
        self.compiled = core.compile_model(str(onnx_file), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()

    def run(self, x) -> torch.Tensor:
        x = np.ascontiguousarray(torch.as_tensor(x, dtype=torch.float32).numpy())
        self.request.infer({0: x})
        return torch.from_numpy(self.request.get_output_tensor(0).data.copy())


def agreement(a, b) -> float:
    return float(np.mean([np.mean(x[0] == y[0]) for x, y in zip(a, b, strict=True)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="threads for torch and onnxruntime "
                        "(default: physical cores)")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per path and case")
    parser.add_argument("--batch", type=int, default=1, help="images per call (default 1: opening an image)")
    parser.add_argument("--model", help="a trained labeltool model (.safetensors) instead of the random network")
    parser.add_argument("--encoder", default="resnet18", help="encoder of the random network (default resnet18, "
                        "the CPU one-click default; resnet34 is the GPU default)")
    parser.add_argument("--agree-images", type=int, default=6, help="real frames the masks are compared on")
    parser.add_argument("--openvino", action="store_true", help="also time OpenVINO (fp32, CPU) on the same ONNX "
                        "file, when the openvino package is installed (a trial, not a dependency)")
    parser.add_argument("--int8", action="store_true", help="also time int8 static quantization")
    parser.add_argument("--quick", action="store_true", help="352x480 only")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "inference.json"))
    args = parser.parse_args(argv)

    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    if args.model:
        from model.registry.modelfile import load_model

        loaded = load_model(args.model, raw=True)
        net, card, model_name = loaded.net, loaded.card, Path(args.model).name
    else:
        net = make_net(args.encoder)
        card = {"normalization": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}}
        model_name = f"smp.Unet({args.encoder}), 12 classes, random init (BatchNorm statistics randomised)"
    mean, std = card["normalization"]["mean"], card["normalization"]["std"]
    sizes = [(352, 480)] if args.quick else SIZES

    tmp = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    t0 = time.perf_counter()
    onnx_file = export_onnx(net, tmp / "model.onnx")
    export_s = time.perf_counter() - t0
    ort_rt = OrtRuntime(onnx_file, threads=threads)
    diff = check_onnx(TorchRuntime(net), ort_rt, rt._check_inputs(3))
    print(f"exported ONNX in {export_s:.1f} s; max logit difference vs torch {diff:.1e} of scale", flush=True)

    import copy

    paths = {"eager": eager_fn(make_net(args.encoder) if not args.model else copy.deepcopy(net), mean, std),
             "torch": predictor_fn(Predictor(net, card, device="cpu", tile=False, scale=1.0, batch_size=args.batch)),
             "onnxruntime": predictor_fn(Predictor(net, card, device="cpu", tile=False, scale=1.0,
                                                   batch_size=args.batch, runtime=ort_rt))}
    if args.openvino:
        paths["openvino"] = predictor_fn(Predictor(net, card, device="cpu", tile=False, scale=1.0,
                                                   batch_size=args.batch, runtime=OpenVinoTrial(onnx_file, threads)))
    int8_info = None
    if args.int8:
        calib_images, test_images = real_images(4, 0), real_images(8, 5)
        captured: list[np.ndarray] = []

        class Capture(Runtime):
            kind = "capture"

            def run(self, x):
                captured.append(torch.as_tensor(x).float().contiguous().numpy().copy())
                return ort_rt.run(x)

        capture = Predictor(net, card, device="cpu", tile=False, scale=1.0, runtime=Capture())
        for im in calib_images:
            capture.predict(resize(im, 352, 480))
        t0 = time.perf_counter()
        q = quantize_int8(onnx_file, tmp / "model.int8.onnx", captured)
        int8_rt = OrtRuntime(q, threads=threads, kind=ORT_INT8)
        int8_pred = Predictor(net, card, device="cpu", tile=False, scale=1.0, batch_size=args.batch, runtime=int8_rt)
        paths["onnxruntime-int8"] = predictor_fn(int8_pred)
        torch_pred = Predictor(net, card, device="cpu", tile=False, scale=1.0)
        real = [resize(im, 352, 480) for im in test_images]
        real_agree = agreement(torch_pred.predict_batch(real), int8_pred.predict_batch(real))
        int8_info = {"quantize_seconds": round(time.perf_counter() - t0, 1), "calibration_images": len(calib_images),
                     "calibration_source": "camvid11/val" if (CAMVID / "val").is_dir() else "generated",
                     "held_out_images": len(real), "mask_agreement_held_out_352x480": real_agree}
        print(f"int8: quantized in {int8_info['quantize_seconds']} s; masks agree {100 * real_agree:.2f}% with the "
              f"torch path on {len(real)} held-out real images", flush=True)

    frames = real_images(args.agree_images, 7)
    rows = []
    for h, w in sizes:
        images = [resize(frames[i % len(frames)], h, w) for i in range(args.batch)]
        for fn in paths.values():  # warm-up
            fn(images)
        real = [resize(f, h, w) for f in frames]  # the answers compared, on real frames at this size
        outputs = {k: [o for im in real for o in fn([im])] for k, fn in paths.items()}
        times: dict[str, list[float]] = {k: [] for k in paths}
        for _ in range(args.reps):
            for k, fn in paths.items():
                start = time.perf_counter()
                fn(images)
                times[k].append(time.perf_counter() - start)
        row = {"height": h, "width": w, "batch": args.batch, "reps": args.reps}
        for k in paths:
            row[k] = {"ms_per_image": 1000 * statistics.median(times[k]) / args.batch,
                      "ms_per_image_min": 1000 * min(times[k]) / args.batch,
                      "mask_agreement_vs_torch": agreement(outputs["torch"], outputs[k])}
        for k in paths:
            row[k]["speedup_vs_eager"] = row["eager"]["ms_per_image"] / row[k]["ms_per_image"]
            row[k]["speedup_vs_eager_min"] = row["eager"]["ms_per_image_min"] / row[k]["ms_per_image_min"]
        rows.append(row)
        print(f"{h}x{w}: " + ", ".join(f"{k} {row[k]['ms_per_image']:.0f} ms (x{row[k]['speedup_vs_eager']:.2f}, "
                                       f"agree {100 * row[k]['mask_agreement_vs_torch']:.2f}%)" for k in paths),
              flush=True)

    print()
    header = f"{'size':>9} " + " ".join(f"{k + ' ms':>22} {'vs eager':>8}" for k in paths) + "  agree(ort)"
    print(header)
    for r in rows:
        print(f"{r['height']}x{r['width']:<5} " + " ".join(
            f"{r[k]['ms_per_image']:>22.1f} {r[k]['speedup_vs_eager']:>7.2f}x" for k in paths)
            + f"  {100 * r['onnxruntime']['mask_agreement_vs_torch']:.3f}%")
    import onnxruntime

    result = {
        "model": model_name, "device": "cpu", "cpu": rt.machine_fingerprint(threads)["cpu"],
        "threads": threads, "batch": args.batch, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
        "onnx": {"opset": ONNX_OPSET, "export_seconds": round(export_s, 2), "max_relative_logit_difference": diff,
                 "graph_optimization": "ORT_ENABLE_ALL", "provider": "CPUExecutionProvider"},
        "int8": int8_info,
        "paths": {"eager": "torch.no_grad(), NCHW fp32, eager (plain smp)",
                  "torch": "Predictor: inference_mode, BatchNorm folded, channels-last",
                  "onnxruntime": "Predictor(runtime=OrtRuntime): ONNX opset 17, ORT_ENABLE_ALL",
                  **({"openvino": "OpenVINO CPU plugin on the same ONNX file, f32 precision, latency hint"}
                     if args.openvino else {}),
                  **({"onnxruntime-int8": "QDQ static int8, per-channel weights, MinMax calibration"} if args.int8 else {})},
        "timing": "interleaved, one warm-up each; median and min of reps; ms per image",
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "results": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
