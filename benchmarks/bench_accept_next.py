"""Accept -> the next image on screen with its proposal drawn, measured in the real window under Xvfb.

A project is made from CamVid-11 training frames of the 0001TP sequence (960x720, no masks) with a model
saved through the engine's own model-file path: the U-Net/ResNet18 at the CPU working scale 0.5 that the
one-click retrain makes on this machine (model/training/defaults.py; random initialisation: the time of a forward
pass does not depend on the weights), its proposal runtime chosen as after a retrain
(``model.inference.runtime.after_training_export``, onnxruntime where measured faster). The real MainWindow opens it
on an X server (Xvfb, QT_QPA_PLATFORM=xcb) and starts its proposal child (``labeltool predict --serve``).

A simulated annotator looks at each image for ``--dwell`` seconds, then presses Enter (Accept: the mask on
screen is saved as corrected, the next image without a correction opens). Timed from the key press to the
next image on screen with its proposal: "shown" when the window emits ``imageShown(name, True)``, "drawn"
after the canvas has painted it (a synchronous repaint). Conditions, each on a fresh copy of the project,
in one run:

- ``ahead``: the child proposes the image on screen and the next 2 (the app's default) while the
  annotator looks (``--dwell`` s per image);
- ``on_demand`` (baseline, prefetch off: ``ahead = 0``): the child proposes only the image on screen,
  once it has opened: how long an annotator waits for a proposal without prefetch;
- ``ahead_no_dwell``: prefetch on but Accept pressed as soon as the proposal is drawn (prefetch had no time).

    flock /tmp/cpu.lock nice -n 0 .venv/bin/python benchmarks/bench_accept_next.py          # ~3 min
    .venv/bin/python benchmarks/bench_accept_next.py --frames 6 --dwell 1                   # a quick look

Starts ``Xvfb :99`` itself when no DISPLAY is set (and stops it). Skips cleanly (exit 0) without
../shared/camvid11 or without Xvfb. Results: benchmarks/results/accept_next.json (every time, the
median, p95 and n per condition; load average; the model and its runtime).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CAMVID, RESULTS, write_json

SEQUENCE = "0001TP"


def make_project(root: Path, frames: int) -> Path:
    """``frames`` consecutive CamVid frames of one sequence, no masks, the CamVid-11 classes."""
    from model.project.codes import CAMVID11_CODES, write_codes

    names = sorted(p.name for p in (CAMVID / "train").glob(f"{SEQUENCE}_*.png"))[:frames]
    (root / "images").mkdir(parents=True)
    for name in names:
        shutil.copy2(CAMVID / "train" / name, root / "images" / name)
    write_codes(root / "codes.txt", CAMVID11_CODES)
    return root


def make_model(root: Path) -> dict:
    """The model the one-click retrain would make here (architecture, encoder, working scale), random init,
    saved as a retrain saves it, its runtime chosen as after a retrain."""
    import torch

    from model.inference.runtime import after_training_export
    from model.nets.networks import make_net, normalization
    from model.project.codes import CAMVID11_CODES
    from model.registry.modelfile import make_card, save_model
    from model.training.defaults import default_scale, default_size, detect_hardware

    hw = detect_hardware()
    wh = (960, 720)
    scale = default_scale(wh, hw)
    encoder = "resnet34" if hw.device == "cuda" else "resnet18"
    torch.manual_seed(0)
    net = make_net("Unet", encoder, len(CAMVID11_CODES))
    card = make_card(arch="Unet", encoder=encoder, classes=CAMVID11_CODES, void_index=len(CAMVID11_CODES) - 1,
                     normalization=normalization(), input_size=default_size(wh, scale, hw), input_scale=scale,
                     training_images=[])
    path = Path(save_model(root / "models", net, card))
    start = time.perf_counter()
    choice = after_training_export(path, int8=False)
    return {"arch": "Unet", "encoder": encoder, "input_scale": scale, "file": path.name,
            "runtime": choice, "export_and_timing_s": round(time.perf_counter() - start, 1)}


def start_xvfb() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        print("Xvfb not found (apt-get install xvfb): skipped")
        sys.exit(0)
    proc = subprocess.Popen(["Xvfb", ":99", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DISPLAY"] = ":99"
    time.sleep(1.0)
    return proc


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run_condition(app, project: Path, ahead: int, dwell: float, screenshot: Path | None = None) -> dict:
    """Open the window on ``project``, let the annotator accept every image; the per-Accept times."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from labeltool.gui.main_window import MainWindow

    win = MainWindow()
    win.ask_quit_while_busy = lambda: True
    win.proposals.ahead = ahead
    win.resize(1280, 800)
    win.show()
    seen: list[tuple[str, bool, float]] = []
    win.imageShown.connect(lambda name, with_mask: seen.append((name, with_mask, time.perf_counter())))

    def pump_until(predicate, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            app.processEvents()
            if predicate():
                return True
            time.sleep(0.001)
        return False

    def pump_for(seconds: float) -> None:
        pump_until(lambda: False, seconds)

    win.raise_()
    win.activateWindow()  # no window manager on Xvfb: the window takes the keyboard itself
    if not pump_until(win.isActiveWindow, 10):
        raise RuntimeError("the window never became active: the Enter key would not reach it")
    assert win.open_folder(str(project)), project
    start = time.perf_counter()
    if not pump_until(lambda: seen and seen[-1][1], 300):
        raise RuntimeError(f"{project}: the first image never got its proposal (is the child running?)")
    first_proposal_s = time.perf_counter() - start
    rows = []
    while True:
        if dwell:
            pump_for(dwell)
        current = win.shown
        target = win.session.next_not_corrected()
        if target is None:
            break
        nxt = win.session.names[target]
        prefetched = win.loader.cached(nxt) and win.session.status(nxt) == "proposed"
        before = len(seen)
        t0 = time.perf_counter()
        QTest.keyClick(win, Qt.Key_Return)  # Accept, as the key press reaches the window
        ok = pump_until(lambda n=nxt, b=before: any(s[0] == n and s[1] for s in seen[b:]), 120)
        if not ok:
            child = win.proposals.child
            raise RuntimeError(f"{nxt}: no proposal on screen 120 s after Accept; shown {seen[before:]}; now "
                               f"{win.shown}; child sent {child.sent if child else None}, stderr "
                               f"{child._stderr_tail if child else None}; status {win.session.status(nxt)}; "
                               f"message {win.statusBar().currentMessage()}")
        shown_at = next(s[2] for s in seen[before:] if s[0] == nxt and s[1])
        win.editor.canvas.repaint()  # the image and its proposal painted now (a synchronous paint)
        drawn = time.perf_counter()
        rows.append({"accepted": current, "next": nxt, "prefetched_at_accept": prefetched,
                     "shown_ms": round((shown_at - t0) * 1000, 2), "drawn_ms": round((drawn - t0) * 1000, 2)})
        if screenshot is not None and len(rows) == 2:
            subprocess.run(["import", "-window", "root", str(screenshot)], check=False)
    statuses = win.session.project.statuses()
    win.close()
    app.processEvents()
    drawn = [r["drawn_ms"] for r in rows]
    return {"ahead": ahead, "dwell_s": dwell, "rows": rows, "first_proposal_s": round(first_proposal_s, 2),
            "n": len(drawn), "median_ms": round(statistics.median(drawn), 1), "p95_ms": round(percentile(drawn, 0.95), 1),
            "min_ms": round(min(drawn), 1), "max_ms": round(max(drawn), 1),
            "shown_median_ms": round(statistics.median(r["shown_ms"] for r in rows), 1),
            "prefetched": sum(r["prefetched_at_accept"] for r in rows),
            "corrected_at_end": sum(1 for s in statuses.values() if s == "corrected")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16, help="CamVid frames in the project (default 16)")
    parser.add_argument("--dwell", type=float, default=2.0, help="seconds the annotator looks at each image")
    parser.add_argument("--conditions", nargs="+", default=["ahead", "on_demand", "ahead_no_dwell"],
                        choices=["ahead", "on_demand", "ahead_no_dwell"])
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the screen after the 2nd Accept "
                                                        "of the first condition (ImageMagick's import)")
    parser.add_argument("--out", type=Path, default=RESULTS / "accept_next.json")
    args = parser.parse_args()
    if not (CAMVID / "train").is_dir():
        print(f"{CAMVID} not found: skipped")
        return 0
    xvfb = start_xvfb()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.pop("LABELTOOL_PROPOSE_AHEAD", None)
    work = Path(tempfile.mkdtemp(prefix="bench-accept-"))
    try:
        from PySide6.QtWidgets import QApplication

        base = make_project(work / "base", args.frames)
        model = make_model(base)
        print(f"model: {model}")
        app = QApplication.instance() or QApplication(sys.argv[:1])
        settings = {"ahead": (2, args.dwell), "on_demand": (0, args.dwell), "ahead_no_dwell": (2, 0.0)}
        results = {}
        for i, name in enumerate(args.conditions):
            project = work / name
            shutil.copytree(base, project)
            ahead, dwell = settings[name]
            load = os.getloadavg()[0]
            results[name] = run_condition(app, project, ahead, dwell, args.screenshot if i == 0 else None)
            results[name]["load_before"] = round(load, 2)
            r = results[name]
            print(f"{name}: median {r['median_ms']} ms, p95 {r['p95_ms']} ms, n {r['n']} "
                  f"({r['prefetched']} prefetched at Accept)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)
    print()
    print("| condition | ahead | dwell s | Accept -> drawn median ms | p95 ms | n | proposal ready at Accept |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['ahead']} | {r['dwell_s']} | {r['median_ms']} | {r['p95_ms']} | {r['n']} | "
              f"{r['prefetched']}/{r['n']} |")
    base_name = "on_demand" if "on_demand" in results else None
    ratios = {}
    if base_name and "ahead" in results:
        ratios["on_demand_over_ahead"] = round(results[base_name]["median_ms"] / results["ahead"]["median_ms"], 1)
        print(f"\nahead vs on demand (median): {ratios['on_demand_over_ahead']}x faster")
    write_json(args.out, {"benchmark": "accept_next", "frames": args.frames, "sequence": SEQUENCE,
                          "cpu_count": os.cpu_count(), "model": model, "conditions": results, "ratios": ratios,
                          "goal_ms": 100, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())})
    return 0


if __name__ == "__main__":
    sys.exit(main())
