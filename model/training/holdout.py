"""The automatic hold-out: which corrected images a retrain validates on when valid.txt names none.

About ``HOLDOUT_FRACTION`` of the corrected images are held out, whole sequences as the project's sequence
setting defines them (model.project.layout.project_group_regex, shared with split and propagation), never images the active or best model saw when others exist,
and the same images stay held out in later retrains (so every model is scored on images it never saw).
The list is kept in the registry (model.registry's ``record_trained``).
"""

from __future__ import annotations

import hashlib
import re

from model.project.layout import DEFAULT_GROUP_REGEX, group_of

HOLDOUT_FRACTION = 0.2
MIN_CORRECTED_FOR_HOLDOUT = 4  # fewer corrected images: all are trained on, the retrain is not measured
MIN_TRAIN_IMAGES = 2


def _stable_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def choose_holdout(corrected: list[str], previous: list[str] | set[str] = (), seen: list[str] | set[str] = (),
                   fraction: float = HOLDOUT_FRACTION, group_regex: str | None = DEFAULT_GROUP_REGEX,
                   ) -> tuple[list[str], list[str], str]:
    """Split corrected images into (train, held out, note for the user). Deterministic; see the module doc.
    ``group_regex``: the project's sequence setting (``model.project.layout.project_group_regex``, the one
    split and propagation read); None means independent images, each its own group."""
    if len(corrected) < MIN_CORRECTED_FOR_HOLDOUT:
        return list(corrected), [], (f"only {len(corrected)} corrected images: too few to hold any out, so this "
                                     "retrain is not validated; list images in valid.txt to validate anyway")
    pattern = re.compile(group_regex) if group_regex is not None else None
    group = {n: group_of(n, pattern) if pattern is not None else n for n in corrected}
    groups: dict[str, list[str]] = {}
    for n in corrected:
        groups.setdefault(group[n], []).append(n)
    previous, seen = set(previous), set(seen)
    held_groups = {group[n] for n in corrected if n in previous}
    held = {n for n in corrected if n in previous or group[n] in held_groups}  # whole sequences stay together
    if len(corrected) - len(held) < MIN_TRAIN_IMAGES:  # e.g. one sequence only: keep the earlier hold-out itself
        held_groups = set()
        held = {n for n in corrected if n in previous}
        if len(corrected) - len(held) < MIN_TRAIN_IMAGES:
            held = set()
    target = max(1, round(fraction * len(corrected)))
    seen_groups = {group[n] for n in corrected if n in seen}
    candidates = sorted((g for g in groups if g not in held_groups), key=lambda g: (g in seen_groups, _stable_key(g)))
    count = len(held)
    picked: list[str] = []
    for g in candidates:
        size = len(groups[g])
        if count < target and abs(count + size - target) < abs(count - target) and \
                len(corrected) - count - size >= MIN_TRAIN_IMAGES:
            picked.append(g)
            count += size
    how = ""
    if picked:
        held |= {n for g in picked for n in groups[g]}
    elif not held:  # every sequence is too long to hold out whole: the last frames of one
        g = candidates[0] if candidates else max(groups, key=lambda k: len(groups[k]))
        tail = sorted(groups[g])[-target:]
        held |= set(tail)
        how = f"the last {len(tail)} frames of {g}: every sequence is too long to hold one out whole"
    train = [n for n in corrected if n not in held]
    val = [n for n in corrected if n in held]
    val_groups = sorted({group[n] for n in val})
    if not how and any(len(groups[g]) > 1 for g in val_groups):
        whole = all(set(groups[g]) <= held for g in val_groups)
        how = f"whole sequences: {', '.join(val_groups)}" if whole else f"frames of {', '.join(val_groups)}"
    note = (f"no valid.txt naming a corrected image: {len(val)} of {len(corrected)} corrected images are held out "
            f"for validation{f' ({how})' if how else ''} and not trained on; list images in valid.txt to choose "
            "them yourself")
    return train, val, note
