"""Train/validation split by video sequence: frames of one video never fall on both sides."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from model.errors import DatasetError
from model.project.layout import DEFAULT_GROUP_REGEX, group_of

from .native import NativeDataset, scan_native, write_list

MIN_VALID_GROUPS = 2
MIN_VALID_IMAGES = 5
SHUFFLES = 64


@dataclass
class SplitPlan:
    valid: list[str]  # image names (stems)
    train: list[str]
    groups: dict[str, list[str]]  # group -> image names
    valid_groups: list[str]
    warnings: list[str] = field(default_factory=list)


def _greedy(order: list[str], groups: dict[str, list[str]], target: float) -> tuple[list[str], int]:
    chosen: list[str] = []
    count = 0
    for key in order:
        size = len(groups[key])
        if abs(count + size - target) < abs(count - target):
            chosen.append(key)
            count += size
    if not chosen:  # every group is more than twice the target: take the smallest
        chosen = [min(order, key=lambda k: len(groups[k]))]
        count = len(groups[chosen[0]])
    return chosen, count


def plan_split(data: NativeDataset, fraction: float, group_regex: str = DEFAULT_GROUP_REGEX,
               seed: int = 0) -> SplitPlan:
    if not 0.0 < fraction < 1.0:
        raise DatasetError(data.root, f"--valid {fraction} must be between 0 and 1 (a fraction of the images)")
    try:
        pattern = re.compile(group_regex)
    except re.error as exc:
        raise DatasetError(None, f"--group-regex {group_regex!r} is not a regular expression ({exc})") from exc
    test = set(data.lists.get("test", ()))
    names = [name for name in data.images if name not in test]
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(group_of(name, pattern), []).append(name)
    if len(groups) < 2:
        raise DatasetError(data.root, f"all {len(names)} images fall in one group with --group-regex "
                                      f"{group_regex!r}; a split would put frames of one video on both sides")
    keys = sorted(groups)
    target = fraction * len(names)
    rng = random.Random(seed)
    candidates: dict[tuple[str, ...], int] = {}
    for _ in range(SHUFFLES):  # greedy fills in seeded orders; then a seeded pick among those near the target
        order = keys[:]
        rng.shuffle(order)
        picked, count = _greedy(order, groups, target)
        candidates[tuple(sorted(picked))] = count
    best = min(abs(count - target) for count in candidates.values())
    near = sorted(c for c, count in candidates.items() if abs(count - target) <= best + max(1.0, 0.1 * target))
    chosen = list(rng.choice(near))
    if len(chosen) == len(keys):
        chosen.pop()
    chosen_set = set(chosen)
    valid = [n for n in names if group_of(n, pattern) in chosen_set]
    train = [n for n in names if group_of(n, pattern) not in chosen_set]
    plan = SplitPlan(valid, train, groups, chosen)
    if len(chosen) < MIN_VALID_GROUPS or len(valid) < MIN_VALID_IMAGES:
        plan.warnings.append(f"the validation set has {len(valid)} images from {len(chosen)} group(s): too few to "
                             f"measure much (want at least {MIN_VALID_IMAGES} images from {MIN_VALID_GROUPS} groups)")
    return plan


def split_dataset(root: str | Path, fraction: float, group_regex: str = DEFAULT_GROUP_REGEX, seed: int = 0,
                  force: bool = False, dry_run: bool = False) -> SplitPlan:
    """Write ``valid.txt`` (image file names, as fastai's FileSplitter reads them)."""
    data = scan_native(root)
    data.raise_first()
    plan = plan_split(data, fraction, group_regex, seed)
    target = data.root / "valid.txt"
    lines = [data.images[name].name for name in plan.valid]
    if not dry_run:
        if target.exists() and not force:
            current = target.read_text(encoding="utf-8-sig").split()
            if current != lines:
                raise DatasetError(target, "already exists; use --force to replace it (or --dry-run to preview)")
        write_list(target, lines)
    return plan
