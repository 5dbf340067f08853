"""Inference latency: labeltool's Predictor vs plain smp eager fp32 on the same network, one run.

Network: U-Net with a ResNet34 encoder, 12 classes, random initialisation (BatchNorm statistics
randomised as after training). Both sides do the same work end to end: uint8 images -> normalised
tensor -> network -> softmax -> class mask + confidence as numpy. The baseline is what a user writes
with smp: ``with torch.no_grad(): net(x)``, NCHW fp32. The engine is ``Predictor.predict_many``
(inference mode, BatchNorm folded into the convolutions, channels-last; CUDA: autocast fp16).
Timings interleave baseline and engine so background load hits both alike.

    .venv/bin/python benchmarks/bench_inference.py [--threads 2] [--reps 3] [--quick]

Prints a table and writes benchmarks/results/inference.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.predict import IMAGENET_MEAN, IMAGENET_STD, Predictor  # noqa: E402


def make_net(classes: int = 12) -> torch.nn.Module:
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    net = smp.Unet("resnet34", encoder_weights=None, classes=classes)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def baseline_fn(net: torch.nn.Module, device: torch.device):
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    net = net.to(device).eval()

    def run(images: list[np.ndarray]):
        x = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float() / 255.0
        x = (x - mean) / std
        with torch.no_grad():
            probs = torch.softmax(net(x), dim=1)
            conf, cls = probs.max(dim=1)
        return cls.to(torch.uint8).cpu().numpy(), conf.cpu().numpy()

    return run


def timed(fn, images, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--reps", type=int, default=3, help="timed runs per case at batch 1 (batch 8: reps - 1)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--quick", action="store_true", help="352x480 only")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "inference.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = [(352, 480)] if args.quick else [(352, 480), (720, 960)]
    batches = [1, 8]
    net = make_net()
    baseline = baseline_fn(make_net(), device)
    t0 = time.perf_counter()
    engine = Predictor(net, {"normalization": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}},
                       device=device, tile=False, batch_size=max(batches))
    engine_setup = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    rows = []
    for h, w in sizes:
        for batch in batches:
            images = [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for _ in range(batch)]
            run_engine = engine.predict_batch
            # same answer first (and a warm-up for both)
            base_mask, base_conf = baseline(images)
            eng = run_engine(images)
            agree = float(np.mean([np.mean(m == base_mask[i]) for i, (m, _) in enumerate(eng)]))
            conf_diff = float(max(np.abs(c - base_conf[i]).max() for i, (_, c) in enumerate(eng)))
            reps = max(1, args.reps if batch == 1 else args.reps - 1)
            times = {"baseline": [], "engine": []}
            for _ in range(reps):
                times["baseline"].append(timed(baseline, images, device))
                times["engine"].append(timed(run_engine, images, device))
            row = {"height": h, "width": w, "batch": batch, "reps": reps, "mask_agreement": agree,
                   "max_confidence_diff": conf_diff}
            for key, values in times.items():
                row[f"{key}_ms_per_image"] = 1000 * statistics.median(values) / batch
                row[f"{key}_ms_per_image_min"] = 1000 * min(values) / batch
            row["speedup"] = row["baseline_ms_per_image"] / row["engine_ms_per_image"]
            row["speedup_min"] = row["baseline_ms_per_image_min"] / row["engine_ms_per_image_min"]
            rows.append(row)
            print(f"{h}x{w} batch {batch}: baseline {row['baseline_ms_per_image']:.0f} ms/img, engine "
                  f"{row['engine_ms_per_image']:.0f} ms/img, speedup x{row['speedup']:.2f} "
                  f"(best-of: x{row['speedup_min']:.2f}), masks agree {100 * agree:.2f}%", flush=True)

    print()
    print(f"{'size':>9} {'batch':>5} {'baseline ms/img':>16} {'engine ms/img':>14} {'speedup':>8}")
    for r in rows:
        print(f"{r['height']}x{r['width']:<5} {r['batch']:>5} {r['baseline_ms_per_image']:>16.1f} "
              f"{r['engine_ms_per_image']:>14.1f} {r['speedup']:>7.2f}x")
    result = {
        "model": "smp.Unet(resnet34), 12 classes, random init",
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "threads": args.threads, "torch": torch.__version__,
        "engine": {"inference_mode": True, "fold_batchnorm": True, "channels_last": engine.channels_last,
                   "autocast": engine.amp, "setup_seconds": round(engine_setup, 3)},
        "baseline": "torch.no_grad(), NCHW fp32, eager",
        "timing": "median of reps after one warm-up each, interleaved; ms per image",
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "results": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
