"""Who labels which images: ``labeltool assign`` splits a dataset among annotators, with an overlap share
that every annotator labels (to measure their agreement, ``model.evaluation.agreement``).

The overlap is spread evenly over the images' order (every k-th image, so it samples every part of every
sequence); the rest is split into one contiguous run per annotator (consecutive frames of a video go to
one person, so the warp of their own previous frame proposes the next). Deterministic: the same names,
annotators, share and seed give the same assignment. Kept in ``.labeltool/assignment.json`` (atomic write).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_text
from model.errors import DatasetError

ASSIGNMENT_FILE = "assignment.json"


def plan_assignment(names: list[str], annotators: list[str], overlap: float, seed: int = 0) -> dict[str, Any]:
    """{"annotators", "overlap_share", "overlap": [names], "assigned": {who: [names, overlap included]}}."""
    people = [a.strip() for a in annotators if a.strip()]
    if len(people) != len(set(people)) or not people:
        raise ValueError(f"annotators must be distinct, non-empty names, got {annotators!r}")
    if not 0 <= overlap <= 1:
        raise ValueError(f"the overlap is a share between 0 and 1, got {overlap}")
    names = list(names)
    count = round(overlap * len(names)) if len(people) > 1 else 0
    shared: list[str] = []
    if count:
        step = len(names) / count
        offset = (seed % max(1, int(step))) if step >= 1 else 0
        shared = [names[min(len(names) - 1, int(offset + i * step))] for i in range(count)]
    rest = [n for n in names if n not in set(shared)]
    runs = [rest[i * len(rest) // len(people):(i + 1) * len(rest) // len(people)] for i in range(len(people))]
    overlap_set = set(shared)
    assigned = {who: [n for n in names if n in overlap_set or n in set(run)] for who, run in zip(people, runs,
                                                                                                  strict=True)}
    return {"annotators": people, "overlap_share": overlap, "seed": seed, "overlap": shared, "assigned": assigned}


def write_assignment(state_dir: Path, assignment: dict[str, Any]) -> Path:
    path = state_dir / ASSIGNMENT_FILE
    atomic_write_text(path, json.dumps(assignment, indent=1) + "\n")
    return path


def read_assignment(state_dir: Path) -> dict[str, Any] | None:
    """The dataset's assignment, or None when it has none; DatasetError naming the file when unreadable."""
    path = state_dir / ASSIGNMENT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DatasetError(path, f"cannot be read ({exc}); assign again with labeltool assign") from exc
    if not isinstance(data, dict) or not isinstance(data.get("assigned"), dict) or not isinstance(
            data.get("overlap"), list):
        raise DatasetError(path, "is not an assignment (assigned, overlap); assign again with labeltool assign")
    return data


def overlap_names(state_dir: Path) -> list[str]:
    """The images every annotator labels (none without an assignment)."""
    assignment = read_assignment(state_dir)
    return [str(n) for n in assignment["overlap"]] if assignment else []


def assigned_to(state_dir: Path, who: str) -> list[str] | None:
    """The images assigned to ``who``; None without an assignment or when ``who`` is not in it."""
    assignment = read_assignment(state_dir)
    names = (assignment or {}).get("assigned", {}).get(who)
    return [str(n) for n in names] if isinstance(names, list) else None


__all__ = ["ASSIGNMENT_FILE", "assigned_to", "overlap_names", "plan_assignment", "read_assignment",
           "write_assignment"]
