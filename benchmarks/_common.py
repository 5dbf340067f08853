"""What the benchmarks share: where the repository, its results folder and the CamVid copy are, and
writing a result file. Importing it puts the repository on ``sys.path`` (benchmarks run as scripts:
``python benchmarks/bench_x.py``, which puts this folder first on the path)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CAMVID = REPO.parent / "shared" / "camvid11"  # the real CamVid-11 (prepared by hand; absent: benchmarks say so)
RESULTS = REPO / "benchmarks" / "results"
VOID = 11  # CamVid-11's Void class index


def write_json(path: str | Path, payload, indent: int = 1) -> Path:
    """Write a benchmark's result atomically (its folder made if need be) and say where."""
    from model.atomic import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(payload, indent=indent) + "\n")
    print(f"wrote {path}")
    return path
