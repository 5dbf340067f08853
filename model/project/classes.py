"""Changing the class list on purpose: ``labeltool classes DATASET rename|add|merge|reorder|split``.

A mask stores class *numbers* (the line numbers of codes.txt), so editing codes.txt by hand would give
every mask another meaning. Each operation here is a :class:`Change`: the new list and, for every old
class number, the new one (``mapping``). :func:`plan` reads every mask (``labels/`` and the proposals
kept for "Revert to proposal") and works out its new pixels and stamp; :func:`model.project.class_journal.apply`
writes them in a way a crash cannot tear (see that module).

What happens to a mask's status: a rename, merge, reorder or add keeps every pixel's meaning, so every
mask keeps its status (a proposal is stamped again with its new pixels' proof, a person's stamp keeps
who and when, a review stays valid). A split makes the split class's pixels ambiguous: a mask with such
pixels becomes *edited* (needs a person's check, never trained on) and records them as unpainted, which
the editor shows and which must be painted before the mask can be marked corrected; a mask of unknown
origin stays unknown. The split pixels hold the first new class until then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import CodesError, MaskError
from model.images.imageio import encode_mask

from .codes import codes_tag, parse_codes, tag_fits
from .kept import PROPOSALS_DIR
from .palette import default_palette
from .provenance import array_hash, decode_classes, person_info, read_provenance, stamp, unpainted_of
from .record import now_iso
from .status import decide


@dataclass
class Change:
    """One operation on the class list: ``mapping[i]`` is old class i's new number; ``split`` lists old
    numbers whose pixels become ambiguous; ``colours`` new numbers' colours (from ``--colour``)."""

    op: str
    old: list[str]
    new: list[str]
    mapping: list[int]
    split: list[int] = field(default_factory=list)
    colours: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    summary: str = ""

    def __post_init__(self) -> None:
        self.old, self.new = list(self.old), list(self.new)  # never the project's own list, which changes

    def pairs(self) -> dict[str, str]:
        """old name -> new name (a split class: its first new name)."""
        return {name: self.new[self.mapping[i]] for i, name in enumerate(self.old)}

    def lut(self) -> np.ndarray:
        table = np.arange(256, dtype=np.uint8)
        table[:len(self.mapping)] = self.mapping
        return table


def _index(codes: list[str], name: str) -> int:
    for i, have in enumerate(codes):
        if have == name:
            return i
    folded = [i for i, have in enumerate(codes) if have.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise CodesError("codes.txt", f"no class {name!r}; the classes are {', '.join(codes)}")


def _valid(new: list[str]) -> list[str]:
    for number, name in enumerate(new, start=1):  # codes.txt forgives blank last lines: a new name must not
        if not name.strip() or "\n" in name or "\r" in name or name != name.strip():
            raise CodesError("codes.txt", f"class {number} would be named {name!r}; a class name is one "
                                          "non-empty line")
    parse_codes("\n".join(new))  # the rules of codes.txt (no empty or repeated names, at most 256)
    return new


def plan_rename(codes: list[str], old: str, new: str) -> Change:
    i = _index(codes, old)
    names = list(codes)
    names[i] = new.strip()
    if names == list(codes):
        raise CodesError("codes.txt", f"renaming {codes[i]} to {names[i]} changes nothing")
    return Change("rename", codes, _valid(names), list(range(len(codes))), summary=f"{codes[i]} -> {names[i]}")


def plan_add(codes: list[str], name: str, colour: tuple[int, int, int] | None = None) -> Change:
    names = _valid([*codes, name.strip()])
    colours = {len(codes): tuple(colour)} if colour else {}
    return Change("add", codes, names, list(range(len(codes))), colours=colours,
                  summary=f"{names[-1]} added as class {len(codes)} (line {len(names)})")


def plan_merge(codes: list[str], sources: list[str], into: str) -> Change:
    merged = sorted({_index(codes, s) for s in sources})
    try:
        target = _index(codes, into)
    except CodesError:
        target = None  # a new name takes the first merged class's place
    drop = [i for i in merged if i != target]
    if not drop:
        raise CodesError("codes.txt", f"merging {', '.join(sources)} into {into} changes nothing")
    names = [into.strip() if (target is None and i == merged[0]) else n for i, n in enumerate(codes)]
    keep = [i for i in range(len(codes)) if i not in drop or (target is None and i == merged[0])]
    new = _valid([names[i] for i in keep])
    goal = new.index(codes[target]) if target is not None else keep.index(merged[0])
    mapping = [goal if i in merged else keep.index(i) for i in range(len(codes))]
    return Change("merge", codes, new, mapping,
                  summary=f"{', '.join(codes[i] for i in merged)} -> {new[goal]}")


def plan_reorder(codes: list[str], order: list[str]) -> Change:
    picked = [_index(codes, n) for n in order]
    if sorted(picked) != list(range(len(codes))):
        missing = [codes[i] for i in range(len(codes)) if i not in picked]
        raise CodesError("codes.txt", "reorder names every class exactly once; "
                                      + (f"missing: {', '.join(missing)}" if missing else "a class repeats"))
    new = [codes[i] for i in picked]
    if new == list(codes):
        raise CodesError("codes.txt", "reorder: the classes are in this order already; nothing to change")
    return Change("reorder", codes, new, [picked.index(i) for i in range(len(codes))],
                  summary=" ".join(new))


def plan_split(codes: list[str], old: str, into: list[str]) -> Change:
    i = _index(codes, old)
    if len(into) < 2:
        raise CodesError("codes.txt", "split needs at least two new classes (--into NEW1 NEW2)")
    rest = [n for n in codes if n != codes[i]]
    parts = [n.strip() for n in into]
    new = _valid([*codes[:i], *parts, *codes[i + 1:]]) if not set(parts) & set(rest) else None
    if new is None:
        raise CodesError("codes.txt", f"split into classes that exist already ({', '.join(set(parts) & set(rest))}); "
                                      "use merge for those pixels")
    mapping = [j if j <= i else j + len(parts) - 1 for j in range(len(codes))]
    return Change("split", codes, new, mapping, split=[i],
                  summary=f"{codes[i]} -> {', '.join(parts)} (its pixels need a person's check)")


def new_palette(change: Change, old: np.ndarray) -> np.ndarray:
    """Each new class keeps its old class's colour (a merge: the target's, or the first merged one's);
    a new class gets ``--colour`` or a default colour that differs from the others."""
    fresh = default_palette(change.new)
    out = np.zeros((len(change.new), 3), dtype=np.uint8)
    given = [False] * len(change.new)
    for i in range(len(change.old)):
        j = change.mapping[i]
        if not given[j] or change.new[j] == change.old[i]:
            out[j], given[j] = old[i], True
    for j in range(len(change.new)):
        if j in change.colours:
            out[j] = change.colours[j]
        elif not given[j]:
            taken = {tuple(c) for c in out[[k for k in range(len(change.new)) if given[k]]]}
            pick = next((tuple(c) for c in [fresh[j], *default_palette([f"class{k}" for k in range(256)])]
                         if tuple(c) not in taken), tuple(fresh[j]))
            out[j] = pick
        given[j] = True
    return out


LISTED = 200  # images listed one by one (all of them where a split makes pixels ambiguous)


@dataclass
class Rewrite:
    """One mask file's new bytes and what the change does to it."""

    name: str
    kind: str  # "labels" or "proposals" (a proposal kept for "Revert to proposal")
    png: bytes
    before: str  # status
    after: str
    pixels: str  # array_hash of the new pixels
    changed: int  # pixels whose number changed
    ambiguous: int  # pixels of a split class


def _review(info: dict[str, Any], old: np.ndarray, new: np.ndarray) -> None:
    """A reviewer's verdict on the old pixels holds for the same pixels renumbered."""
    review = info.get("review")
    if isinstance(review, dict) and review.get("pixels") == array_hash(old):
        info["review"] = {**review, "pixels": array_hash(new)}


def rewrite_mask(path: Path, name: str, kind: str, change: Change, palette: np.ndarray, user: str,
                 status: str | None = None, encode: bool = True) -> Rewrite | None:
    """The mask file at ``path`` rewritten for ``change`` (``encode=False``: only what it does, no new
    bytes); None when its pixels and stamp stay as they are (an added class, or classes it does not use
    moved nowhere)."""
    data = path.read_bytes()
    prov = read_provenance(path)
    status = status or decide(prov)
    classes = decode_classes(data)
    if classes is None:
        raise MaskError(path, "cannot be read as class numbers; nothing was changed (move it away first)")
    if classes.size and int(classes.max()) >= len(change.old):
        raise MaskError(path, f"holds class {int(classes.max())}, but codes.txt lists {len(change.old)} classes; "
                              "nothing was changed")
    new = change.lut()[classes]
    ambiguous = np.isin(classes, change.split) if change.split else np.zeros(classes.shape, dtype=bool)
    info = dict(prov.info) if prov.info is not None else None
    tag = codes_tag(change.new)
    if np.array_equal(new, classes) and not ambiguous.any() and (info is None or tag_fits(info.get("codes"),
                                                                                         change.new) is not False):
        return None
    after = status
    if not encode:
        after = "edited" if ambiguous.any() and status != "unknown" else status
        return Rewrite(name, kind, b"", status, after, "", int((new != classes).sum()), int(ambiguous.sum()))
    png = encode_mask(new, palette, path)
    note = {"op": change.op, "what": change.summary, "at": now_iso()}
    if ambiguous.any() and status != "unknown":
        earlier = unpainted_of(info) if info is not None else None
        unpainted = ambiguous | earlier if earlier is not None and earlier.shape == ambiguous.shape else ambiguous
        by = info.get("by") if info is not None and info.get("source") == "person" else user
        stamped = {**person_info(str(by), now_iso(), checked=False, unpainted=unpainted), "codes": tag,
                   "classes": note}
        if info is not None and info.get("source") == "model":
            stamped["from_model"] = info.get("model")
        png, after = stamp(png, stamped), "edited"
    elif info is None:
        pass  # no stamp (another tool's mask): none is added, the record keeps its status by its pixels
    elif status == "proposed":
        kept = {k: v for k, v in info.items() if k not in ("v", "pixels", "data")}
        png = stamp(png, {**kept, "codes": tag, "classes": note}, with_pixels=True, pixels=new)
    else:  # a person's (its review follows the pixels) or unknown (its claim stays unproven)
        kept = {k: v for k, v in info.items() if k != "v"}
        if kept.get("source") == "person":
            _review(kept, classes, new)
        png = stamp(png, {**kept, "codes": tag, "classes": note})
    return Rewrite(name, kind, png, status, after, array_hash(new), int((new != classes).sum()),
                   int(ambiguous.sum()))


def plan(project, change: Change, palette: np.ndarray, encode: bool = True) -> Iterator[Rewrite]:
    """Every mask file the change rewrites (``labels/`` and kept proposals), one at a time (the caller
    writes each away: a large dataset's masks are never all in memory), read under the caller's lock."""
    from .project import current_user

    user = current_user()
    statuses = project.statuses()
    for name in project.names():
        path = project.label_path(name)
        if statuses[name] != "none" and path.exists():
            item = rewrite_mask(path, name, "labels", change, palette, user, statuses[name], encode)
            if item is not None:
                yield item
    kept = project.state_dir / PROPOSALS_DIR
    if kept.is_dir():
        for path in sorted(kept.glob("*.png")):
            item = rewrite_mask(path, path.name, "proposals", change, palette, user, None, encode)
            if item is not None:
                yield item


def describe_plan(change: Change, items: list[Rewrite]) -> list[str]:
    """The lines ``labeltool classes`` prints (the plan with --dry-run, the result without)."""
    lines = [f"{change.op}: {change.summary}",
             f"  codes.txt: {' '.join(change.old)}", f"        ->   {' '.join(change.new)}"]
    labels = [r for r in items if r.kind == "labels"]
    lines.append(f"  {len(labels)} mask(s) rewritten, {sum(r.changed for r in labels)} pixels renumbered "
                 f"(each keeps its meaning); {len(items) - len(labels)} kept proposal(s)")
    listed = 0
    for r in labels:
        if r.ambiguous == 0 and listed >= LISTED:
            continue  # every image with ambiguous pixels is listed; the others up to LISTED
        listed += 1
        extra = f", {r.ambiguous} ambiguous pixels" if r.ambiguous else ""
        status = r.before if r.before == r.after else f"{r.before} -> {r.after}"
        lines.append(f"    {r.name}: {r.changed} pixels renumbered{extra}; {status}")
    if listed < len(labels):
        lines.append(f"    ... and {len(labels) - listed} more")
    ambiguous = [r for r in labels if r.ambiguous]
    if ambiguous:
        lines.append(f"  {len(ambiguous)} mask(s) hold pixels of the split class: they now hold "
                     f"{change.new[change.mapping[change.split[0]]]} there, marked unpainted (the editor shows "
                     "them), and are edited until a person paints them and marks them corrected; "
                     "the pixels were not proposed again")
    return lines


__all__ = ["Change", "Rewrite", "describe_plan", "new_palette", "plan", "plan_add", "plan_merge", "plan_rename",
           "plan_reorder", "plan_split", "rewrite_mask"]
