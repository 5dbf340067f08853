"""The window at scale (issue 8): open, Accept -> next image on screen, save + list update, on hard-linked
tiny images, offscreen Qt. Prints a table and writes benchmarks/results/window_record.json.

    nice -n 10 .venv/bin/python benchmarks/bench_window_record.py --images 10000 [--images 100000] [--steps 200]

Accept -> next: from the Enter key to the next image's pixels in the editor (prefetched in the background
while the person looks at the current one; the measure waits a person's ~150 ms between images).
Save + list update: from Ctrl+S to the saved row repainted (snapshot, PNG write + record on the writer
thread, the one row's dataChanged). "GUI blocked" is the time the GUI thread itself spent in the handler.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from _common import RESULTS, write_json

CODES = ["Sky", "Road", "Car", "Void"]
H, W = 90, 120


def make_dataset(root: Path, count: int, proposed: int) -> Path:
    """``count`` hard links of one tiny image; the first ``proposed`` get a (hard-linked) proposal."""
    from model.images.imageio import write_image
    from model.project.codes import write_codes
    from model.project.project import Project

    images = root / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    for i in range(count):
        source = root / f"source{i // 60_000}.png"  # ext4 allows 65,000 links to one file
        if i % 60_000 == 0:
            write_image(source, pixels)
        os.link(source, images / f"frame{i:06d}.png")
    write_codes(root / "codes.txt", CODES)
    project = Project.open(root)
    mask = np.zeros((H, W), np.uint8)
    mask[H // 2:] = 1
    first = project.names()[0]
    project.save_mask(first, mask, "proposed", model="bench",
                      summary={"mean_confidence": 0.8, "unsure_fraction": 0.2, "entropy": 0.3})
    first_label = project.label_path(first)
    with project.batch():
        for i, name in enumerate(project.names()[1:proposed]):
            src = root / f"label{i // 60_000}.png"
            if i % 60_000 == 0:
                src.write_bytes(first_label.read_bytes())
            os.link(src, project.label_path(name))
            project.db.put(name, status="proposed", size=src.stat().st_size, mtime_ns=src.stat().st_mtime_ns,
                           model="bench", mean_confidence=0.5 + (i % 97) / 200, unsure_fraction=0.2,
                           entropy=0.1 + (i % 89) / 100)
    return root


def percentile(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def run(count: int, steps: int) -> dict:
    from PySide6.QtWidgets import QApplication

    from labeltool.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        root = make_dataset(Path(tmp) / "ds", count, proposed=min(count, max(steps * 2, count // 2)))
        made = time.perf_counter() - t
        win = MainWindow()
        win.resize(1200, 800)
        win.show()
        t = time.perf_counter()
        assert win.open_folder(str(root))
        while win.shown is None:
            app.processEvents()
        opened = time.perf_counter() - t

        def settle(ms=150):  # a person looks at the image; prefetch runs meanwhile
            end = time.perf_counter() + ms / 1000
            while time.perf_counter() < end:
                app.processEvents()
                time.sleep(0.002)

        accept, accept_blocked, accept_cpu = [], [], []
        for _ in range(steps):
            settle()
            before = win.shown
            t, c = time.perf_counter(), time.thread_time()
            win.accept_and_next()
            accept_blocked.append(time.perf_counter() - t)
            accept_cpu.append(time.thread_time() - c)
            while win.shown == before or win._want is not None:
                app.processEvents()
                time.sleep(0.0002)
            accept.append(time.perf_counter() - t)
        save, save_blocked, writer_cpu = [], [], []
        rows_touched = []
        win.files.model.dataChanged.connect(lambda a, b, *_: rows_touched.append(b.row() - a.row() + 1))
        for k in range(steps):
            settle(20)
            layer = win.editor.layer
            y, x = 10 + k % 60, 10 + k % 100
            change = layer.dab(y, x, 3, (layer.class_at(y, x) + 1) % 3)  # one brush dab, one undo step
            win.editor.canvas.apply_change(change)
            win.editor.canvas.edited.emit(change)
            name = win.shown
            rows_touched.clear()
            t, c = time.perf_counter(), time.thread_time()
            future = win._snapshot_shown()
            save_blocked.append(time.thread_time() - c)
            while not (future.done() and win.session.status(name) == "corrected" and rows_touched):
                app.processEvents()
                time.sleep(0.0002)
            save.append(time.perf_counter() - t)
            writer_cpu.append(future.result().cpu_seconds)
            if k % 10 == 9:
                win.step(1)
                while win._want is not None:
                    app.processEvents()
        win.close()
        return {
            "images": count, "make_s": round(made, 1), "open_s": round(opened, 3),
            "accept_next_p50_ms": round(1000 * statistics.median(accept), 2),
            "accept_next_p95_ms": round(1000 * percentile(accept, 95), 2),
            "accept_gui_blocked_p95_ms": round(1000 * percentile(accept_blocked, 95), 2),
            "accept_gui_cpu_p50_ms": round(1000 * statistics.median(accept_cpu), 2),
            "save_list_p50_ms": round(1000 * statistics.median(save), 2),
            "save_list_p95_ms": round(1000 * percentile(save, 95), 2),
            "save_gui_cpu_p95_ms": round(1000 * percentile(save_blocked, 95), 2),
            "writer_cpu_p50_ms": round(1000 * statistics.median(writer_cpu), 2),
            "load_avg_1min": round(os.getloadavg()[0], 1),
            "rows_repainted_per_save": max(rows_touched) if rows_touched else 0,
            "steps": steps,
        }


def list_scale(rows: int) -> dict:
    """The file list alone at ``rows`` images (records in memory, no files): build, filter, search,
    re-order, and one row's update after a save."""
    from types import SimpleNamespace

    from PySide6.QtWidgets import QApplication

    from labeltool.gui.file_list import FileList
    from labeltool.workspace.session import Session

    app = QApplication.instance() or QApplication([])
    names = [f"frame{i:06d}" for i in range(rows)]
    rng = np.random.default_rng(0)
    records = {n: SimpleNamespace(status="proposed" if i % 3 else "none", entropy=float(rng.random()),
                                  mean_confidence=0.8, unsure_fraction=0.1, margin=None)
               for i, n in enumerate(names)}
    project = SimpleNamespace(names=lambda: list(names))
    out = {"rows": rows}
    t = time.perf_counter()
    session = Session(project, records=records, image_pixels=H * W)
    out["session_s"] = round(time.perf_counter() - t, 3)
    widget = FileList()
    widget.resize(400, 800)
    widget.show()
    t = time.perf_counter()
    widget.set_session(session)
    app.processEvents()
    out["show_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    widget.set_status_filter("proposed")
    app.processEvents()
    out["filter_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    widget.search.setText("12")
    app.processEvents()
    out["search_s"] = round(time.perf_counter() - t, 3)
    widget.search.setText("")
    widget.set_status_filter("all")
    t = time.perf_counter()
    widget.set_order("name")
    app.processEvents()
    out["reorder_s"] = round(time.perf_counter() - t, 3)
    updates = []
    for k in range(200):
        name = names[(k * 7919) % rows]
        t = time.perf_counter()
        index = session.update(name, "corrected", SimpleNamespace(status="corrected", entropy=None,
                                                                  mean_confidence=None, unsure_fraction=None,
                                                                  margin=None))
        widget.row_changed(index)
        widget.summarise()
        app.processEvents()
        updates.append(time.perf_counter() - t)
    out["row_update_p95_ms"] = round(1000 * percentile(updates, 95), 2)
    widget.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, action="append")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--list-rows", type=int, action="append", help="also time the file list alone")
    args = parser.parse_args()
    lists = [list_scale(n) for n in (args.list_rows or [])]
    if lists:
        print(" | ".join(lists[0]))
        for r in lists:
            print(" | ".join(str(v) for v in r.values()))
    results = []
    for n in args.images or ([] if lists else [10_000]):
        results.append(run(n, args.steps))
        print(json.dumps(results[-1]), flush=True)
    if results:
        print(" | ".join(results[0]))
        for r in results:
            print(" | ".join(str(v) for v in r.values()))
    write_json(RESULTS / ("window_record.json" if results else "window_list.json"),
               {"machine": os.uname().nodename, "cpus": os.cpu_count(), "results": results, "list": lists})


if __name__ == "__main__":
    main()
