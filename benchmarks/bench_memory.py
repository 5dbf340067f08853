"""Peak memory of `labeltool predict` and of the app's prefetch child on one large photo, before and after (issue 18).

Each measurement is a child process, `python -m labeltool predict PROJECT --only photo --model M` (row
"predict") or the app's proposal child `python -m labeltool predict PROJECT --serve --json --model M` told to
propose the photo and then to quit (row "prefetch child", on a fresh copy of the project), on a
project holding one synthetic photo (a CamVid frame resized up, with fine noise, saved as JPEG) of
1, 12 or 50 MP; the model is smp U-Net/ResNet18, 12 classes, random init with randomised BatchNorm
statistics, its card's ``input_scale`` the CPU default for that size (``model.training.defaults.default_scale``,
2 MP per image), as the one-click retrain would train it. Peak RSS is the child's ``ru_maxrss``
(``os.wait4``; the projects are made by another child, so that this parent stays small: a child's
``ru_maxrss`` counts from the parent's RSS at the fork). "before" runs the same command with the parent commit's code (``--before REV``,
exported with ``git archive``); a child whose RSS passes ``--cap-gb`` is stopped and reported as over.

``--agreement N``: on N real CamVid frames (native 480x360, and resized up to 12 MP), the masks and the
proposal figures of the new path against the old one (full-size logits, softmax, max: still callable as
``Predictor.probabilities``).

    python benchmarks/bench_memory.py --sizes 1 12 50 --before 9bab318      # round 2 (results/memory.json)
    python benchmarks/bench_memory.py --sizes 1 12 50 --before 1bf00fe --agreement 6   # round 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import CAMVID, REPO, RESULTS, write_json

if not CAMVID.exists():  # a worktree beside the main checkout
    CAMVID = Path("/work/shared/camvid11")

CLASSES = ["Sky", "Building", "Pole", "Road", "Sidewalk", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian",
           "Bicyclist", "Void"]


def make_net():
    import segmentation_models_pytorch as smp
    import torch

    torch.manual_seed(0)
    net = smp.Unet("resnet18", encoder_weights=None, classes=len(CLASSES))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def camvid_frames(count: int) -> list[Path]:
    frames = sorted((CAMVID / "train").glob("*.png"))
    step = max(1, len(frames) // max(1, count))
    return frames[::step][:count]


def photo(mp: float, seed: int = 0) -> np.ndarray:
    from PIL import Image

    w = int(round((mp * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    frames = camvid_frames(4)
    if frames:
        with Image.open(frames[seed % len(frames)]) as im:
            image = np.asarray(im.convert("RGB").resize((w, h), Image.BILINEAR))
    else:
        image = np.zeros((h, w, 3), np.uint8)
    rng = np.random.default_rng(seed)
    noise = rng.integers(-8, 9, (h, 1, 1), dtype=np.int16) + rng.integers(-8, 9, (1, w, 1), dtype=np.int16)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def make_project(root: Path, mp: float) -> tuple[Path, Path, tuple[int, int]]:
    from PIL import Image

    from model.registry.modelfile import make_card, save_model
    from model.training.defaults import Hardware, default_scale

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "codes.txt").write_text("\n".join(CLASSES) + "\n")
    image = photo(mp)
    h, w = image.shape[:2]
    Image.fromarray(image).save(root / "images" / "photo.jpg", quality=92)
    del image
    scale = default_scale((w, h), Hardware("cpu", 2))
    card = make_card(arch="Unet", encoder="resnet18", classes=CLASSES, void_index=11,
                     normalization={"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
                     input_size=[round(h * scale), round(w * scale)], training_images=[], input_scale=scale)
    model = save_model(root / "models", make_net(), card)
    return root, model, (w, h)


def _own_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def _watch_cap(child: subprocess.Popen, cap_bytes: int, stopped: threading.Event,
               reaped: threading.Event) -> threading.Thread:
    def watch():
        page = os.sysconf("SC_PAGE_SIZE")
        while not reaped.is_set():  # not child.poll(): it would reap the child before os.wait4 gets its usage
            try:
                with open(f"/proc/{child.pid}/statm") as fh:
                    if int(fh.read().split()[1]) * page > cap_bytes:
                        stopped.set()
                        child.kill()
                        return
            except (OSError, ValueError):
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def peak_rss(code_dir: Path, project: Path, model: Path, cap_bytes: int,
             serve: bool = False) -> tuple[float | None, float, bool]:
    """(peak RSS in MB or None, seconds, stopped at the cap) of one `labeltool predict` child; ``serve``: the
    app's prefetch child (`predict --serve --json`) told to propose the photo, then to quit once it is written."""
    env = dict(os.environ, PYTHONPATH=str(code_dir), LABELTOOL_RUNTIME="torch")
    start = time.perf_counter()
    tail = ["--serve", "--json", "--nice", "0"] if serve else ["--only", "photo", "--neighbours", "off"]
    child = subprocess.Popen([sys.executable, "-m", "labeltool", "predict", str(project), "--model", str(model),
                              "--threads", "2", *tail], env=env, stderr=subprocess.PIPE, cwd=str(code_dir),
                             stdin=subprocess.PIPE if serve else None,
                             stdout=subprocess.PIPE if serve else subprocess.DEVNULL)
    stopped = threading.Event()
    reaped = threading.Event()
    watcher = _watch_cap(child, cap_bytes, stopped, reaped)
    events = []
    if serve:  # plan the photo, wait for its proposal (or a notice), then quit
        child.stdin.write(b'{"plan": ["photo"]}\n')
        child.stdin.flush()
        for line in child.stdout:
            event = json.loads(line)
            events.append(event)
            if event.get("event") in ("proposed", "skipped", "notice"):
                break
        try:
            child.stdin.write(b'{"quit": true}\n')
            child.stdin.close()
        except OSError:
            pass
        child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    reaped.set()
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode(errors="replace")
    watcher.join()
    seconds = time.perf_counter() - start
    if stopped.is_set():
        return None, seconds, True
    if child.returncode != 0 or (serve and not any(e.get("event") == "proposed" for e in events)):
        raise RuntimeError(f"predict failed ({child.returncode}, {events[-3:]}): {err[-2000:]}")
    return usage.ru_maxrss / 1024.0, seconds, False


def agreement(count: int) -> list[dict]:
    """New path vs the old full-size path on real CamVid frames, at the CPU default scale."""
    import torch
    from PIL import Image

    from model.inference.predict import Predictor
    from model.inference.propose import proposal_summary
    from model.training.defaults import Hardware, default_scale

    torch.set_num_threads(2)
    net = make_net()
    rows = []
    for label, up in (("native 480x360", 1), ("12 MP (x8.33 resized up)", 4000 / 480)):
        same = total = 0
        figures = []
        for path in camvid_frames(count):
            with Image.open(path) as im:
                im = im.convert("RGB")
                if up != 1:
                    im = im.resize((round(im.width * up), round(im.height * up)), Image.BILINEAR)
                image = np.asarray(im)
            h, w = image.shape[:2]
            predictor = Predictor(net, {"input_scale": default_scale((w, h), Hardware("cpu", 2)),
                                        "classes": CLASSES}, device="cpu", with_entropy=True)
            new = predictor.predict(image)
            probs = predictor.probabilities([image])[0]  # the old path: full-size logits -> softmax -> max
            conf, cls = probs.max(dim=0)
            ent = torch.special.entr(probs).sum(dim=0)
            old_mask = cls.to(torch.uint8).numpy()
            old = proposal_summary(type("P", (), {"confidence": conf.numpy(), "entropy": ent.numpy()})(), len(CLASSES))
            del probs, conf, cls, ent
            same += int((new.mask == old_mask).sum())
            total += old_mask.size
            figures.append((old, proposal_summary(new, len(CLASSES))))
        diffs = {k: max(abs(a[k] - b[k]) for a, b in figures) for k in ("mean_confidence", "unsure_fraction", "entropy")}
        rows.append({"frames": label, "count": len(figures), "mask_agreement": same / total,
                     "max_abs_diff": diffs})
        print(f"{label:<28} {len(figures)} frames: masks agree on {100 * same / total:.4f} % of pixels; largest "
              "summary difference " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 12, 50], help="megapixels")
    parser.add_argument("--before", metavar="REV", help="also measure this commit's code (git archive)")
    parser.add_argument("--cap-gb", type=float, default=6.0, help="stop a child past this RSS (shared machine)")
    parser.add_argument("--agreement", type=int, default=0, metavar="N", help="CamVid frames for the agreement check")
    parser.add_argument("--out", default=str(RESULTS / "memory.json"))
    parser.add_argument("--make", nargs=2, metavar=("DIR", "MP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:  # the child that makes one project (see main's loop)
        from model.training.defaults import Hardware, default_scale

        project, model, (w, h) = make_project(Path(args.make[0]), float(args.make[1]))
        print(json.dumps({"project": str(project), "model": str(model), "size": [w, h],
                          "scale": round(default_scale((w, h), Hardware("cpu", 2)), 4)}))
        return 0
    result_rss = _own_rss_mib()
    work = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    result: dict = {"load_average_start": os.getloadavg(), "cap_gb": args.cap_gb, "rows": [],
                    "parent_rss_mib_at_start": round(result_rss)}
    try:
        codes = {"after": REPO}
        if args.before:
            before = work / "before"
            before.mkdir()
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            codes = {"before": before, **codes}
            result["before"] = args.before
        print(f"{'process':<14} {'MP':>5} {'size':>11} {'scale':>6} "
              + " ".join(f"{k + ' MiB':>10} {k + ' s':>8}" for k in codes) + "  after/before", flush=True)
        for mp in args.sizes:
            # made by a child: a parent that had held the photo would lend the children its peak RSS (a forked
            # child's ru_maxrss starts from the parent's RSS at the fork; the first version of this table had 1570
            # MiB for every 50 MP child so)
            made = json.loads(subprocess.run([sys.executable, __file__, "--make", str(work / f"p{mp:g}"), str(mp)],
                                             check=True, capture_output=True, text=True).stdout)
            project, model, (w, h) = Path(made["project"]), Path(made["model"]), made["size"]
            pristine = work / f"p{mp:g}-pristine"  # the serve child proposes only an image without a proposal
            shutil.copytree(project, pristine)
            for process in ("predict", "prefetch child"):
                row = {"process": process, "megapixels": round(w * h / 1e6, 2), "size": f"{w}x{h}",
                       "scale": made["scale"]}
                for key, code in codes.items():  # one child at a time
                    where = project
                    if process != "predict":
                        where = work / f"serve-{key}"
                        shutil.copytree(pristine, where)
                    mb, seconds, stopped = peak_rss(code, where, where / "models" / model.name,
                                                    int(args.cap_gb * (1 << 30)), serve=process != "predict")
                    if where != project:
                        shutil.rmtree(where, ignore_errors=True)
                    row[key] = {"peak_rss_mib": None if mb is None else round(mb),
                                "peak_rss_bytes": None if mb is None else round(mb * 1024 * 1024),
                                "under_1.5e9_bytes": None if mb is None else mb * 1024 * 1024 <= 1.5e9,
                                "seconds": round(seconds, 1), "stopped_at_cap": stopped}
                if "before" in row and row["before"]["peak_rss_mib"] and row["after"]["peak_rss_mib"]:
                    row["after_over_before"] = round(row["after"]["peak_rss_mib"] / row["before"]["peak_rss_mib"], 3)
                result["rows"].append(row)
                cells = " ".join((f"{'>' + format(args.cap_gb * 1024, '.0f'):>10}" if row[k]["stopped_at_cap"]
                                  else f"{row[k]['peak_rss_mib']:>10}") + f" {row[k]['seconds']:>8}" for k in codes)
                print(f"{process:<14} {row['megapixels']:>5} {row['size']:>11} {row['scale']:>6} {cells}  "
                      f"{row.get('after_over_before', '-')}", flush=True)
            shutil.rmtree(project, ignore_errors=True)
            shutil.rmtree(pristine, ignore_errors=True)
        if args.agreement:
            result["agreement"] = agreement(args.agreement)
        result["load_average_end"] = os.getloadavg()
        result["parent_rss_mib_at_end"] = round(_own_rss_mib())  # every child's peak includes at most this
        write_json(args.out, result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
