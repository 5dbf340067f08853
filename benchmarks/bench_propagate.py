"""Proposals from a neighbouring frame on CamVid-11's held-out sequence (``val.txt``: 101 frames of 0016E5,
07959..08159, 2 video frames apart): copy the previous frame's ground-truth mask, warp it by optical flow
(``model.inference.propagate``), the network's proposal (a model file, when given), and their combination by
confidence. Scored as the share of non-Void pixels that are wrong (lower is better), over all target
frames that have a source frame ``gap`` video frames earlier.

    python benchmarks/bench_propagate.py                         # copy vs warp at 2, 10 and 30 frames
    python benchmarks/bench_propagate.py --model PATH.safetensors   # + network and combinations
    python benchmarks/bench_propagate.py --model A.safetensors --model B.safetensors   # several models, one flow pass

Skips cleanly (exit 0) when ../shared/camvid11 is absent. Results: benchmarks/results/propagate*.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CAMVID = REPO.parent / "shared" / "camvid11"
RESULTS = REPO / "benchmarks" / "results"
VOID = 11


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[],
                        help="a model file: adds the network and the combinations (repeat for several models)")
    parser.add_argument("--gaps", default="2,10,30", help="video-frame gaps between source and target")
    parser.add_argument("--thresholds", default="0.5,0.7,0.9", help="combination thresholds")
    parser.add_argument("--tvl1", action="store_true", help="also the TV-L1 flow (slower)")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    if not (CAMVID / "val").is_dir():
        print(f"skipped: {CAMVID} is not present")
        return 0
    from model.images.imageio import read_image, read_mask
    from model.inference.propagate import combine, flow_to, sequence_key, warp_mask

    names = sorted(p.stem for p in (CAMVID / "val").glob("*.png"))
    frames = {sequence_key(n): n for n in names}
    images = {n: read_image(CAMVID / "val" / f"{n}.png") for n in names}
    truth = {n: read_mask(CAMVID / "valannot" / f"{n}.png") for n in names}
    nets: dict[str, dict] = {}  # label -> name -> (mask, confidence)
    network_seconds: dict[str, float] = {}
    for k, model_path in enumerate(args.model):
        import torch

        from model.inference.predict import Predictor
        from model.registry.modelfile import load_model

        torch.set_num_threads(2)
        label = "network" if len(args.model) == 1 else f"network{k + 1}"
        pred = Predictor(load_model(model_path), device="cpu", batch_size=4)
        t = time.perf_counter()
        nets[label] = {n: (p.mask, p.confidence)
                       for n, p in zip(names, pred.predict_many([images[n] for n in names]), strict=True)}
        network_seconds[label] = (time.perf_counter() - t) / len(names)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    rows = []
    for gap in (int(g) for g in args.gaps.split(",")):
        wrong: dict[str, int] = {}
        total = 0
        seconds = {"warp": 0.0, "tvl1": 0.0}
        pairs = 0
        for (seq, f), target in frames.items():
            source = frames.get((seq, f - gap))
            if source is None:
                continue
            pairs += 1
            gt = truth[target]
            scored = gt != VOID
            total += int(scored.sum())
            cands = {"copy": truth[source]}
            t = time.perf_counter()
            cands["warp"] = warp_mask(truth[source], flow_to(images[target], images[source]))
            seconds["warp"] += time.perf_counter() - t
            if args.tvl1:
                t = time.perf_counter()
                cands["warp tvl1"] = warp_mask(truth[source], flow_to(images[target], images[source], method="tvl1"))
                seconds["tvl1"] += time.perf_counter() - t
            for label, net in nets.items():
                m, c = net[target]
                cands[label] = m
                for th in thresholds:
                    cands[f"{label}>={th:g} else warp"] = combine(cands["warp"], m, c, th)
            for k, v in cands.items():
                wrong[k] = wrong.get(k, 0) + int((v[scored] != gt[scored]).sum())
        row = {"gap_frames": gap, "seconds_apart": gap / 30, "pairs": pairs,
               "wrong_non_void": {k: v / max(1, total) for k, v in wrong.items()},
               "warp_seconds_per_frame": seconds["warp"] / max(1, pairs)}
        if args.tvl1:
            row["tvl1_seconds_per_frame"] = seconds["tvl1"] / max(1, pairs)
        rows.append(row)
        print(f"gap {gap} frames ({gap / 30:.2f} s), {pairs} pairs, warp {row['warp_seconds_per_frame']:.2f} s/frame")
        for k, v in row["wrong_non_void"].items():
            print(f"  {k:<28}{v:>8.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"propagate{('_' + args.tag) if args.tag else ''}.json"
    models = {("network" if len(args.model) == 1 else f"network{k + 1}"): m for k, m in enumerate(args.model)}
    out.write_text(json.dumps({"split": "camvid11 val.txt (0016E5 07959-08159)", "models": models,
                               "network_seconds_per_frame": network_seconds, "rows": rows}, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
