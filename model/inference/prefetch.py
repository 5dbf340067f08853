"""Propose the next images ahead of the annotator, in a background thread (no Qt here).

While a person corrects one image, the CPU is mostly idle: ``Prefetcher`` proposes the next ``ahead``
images of the order the app will show them in, so that the image after Accept opens with its proposal
already on disk. Proposals are written exactly as ``labeltool predict`` writes them
(``model.inference.propose_dataset``: mask with status "proposed", confidence, uncertainty summary),
so a corrected image, or the image open in the editor (``Project.hold``), is never overwritten.

    from model.inference.prefetch import Prefetcher
    prefetcher = Prefetcher(project, ahead=2, on_ready=lambda name: ...)   # e.g. emit a Qt signal
    prefetcher.schedule(order, current="0001TP_006690")   # after each image change / Accept
    ...
    prefetcher.close()

``schedule`` returns at once; it replaces the previous plan (an image being proposed is finished, the
rest of the old plan dropped); ``schedule(plan, ahead=len(plan))`` proposes exactly the names of ``plan``
that need it, in that order (``labeltool predict --serve``, the app's proposal child, does this). An image needs a proposal when it has no mask, or a proposal from a
model other than the one that proposes now. The model is the project's proposer (``resolve_model_path``),
loaded once and reloaded when a retrain replaces it; it runs through ``model.inference.proposal_runtime``
(onnxruntime where measured faster). The thread runs at a lower CPU priority (nice +``nice``) so that the
window stays responsive. ``on_ready(name)``, ``on_error(name, message)`` and ``on_skip(name)`` (an image
left alone: corrected meanwhile, or open in an editor) are called from the background thread: a GUI must hand them over to its own thread (a queued Qt signal).

After an Accept, ``accepted([name])`` re-proposes, ahead of the plan, the frames next to ``name`` in its sequence
whose proposal would now come from its warp (:func:`after_accept`, the one rule): the same proposal run with
``neighbour_only``, so the warp's guard and its confidence map apply, and a frame whose warp fails the guard keeps
its proposal. A new plan never drops them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from model.project.layout import project_group_regex
from model.project.status import TRAINED  # a person's checked mask (corrected or reviewed)

from .propagate import FrameIndex, neighbour_source, warped_from

log = logging.getLogger(__name__)


def after_accept(project, accepted: str, frames: FrameIndex) -> list[str]:
    """The frames to propose again now that ``accepted`` is corrected: its neighbours in its sequence (``frames``,
    the project's sequence setting; next frame first) whose proposal would now come from its mask
    (``propagate.neighbour_source``: the nearest corrected frame, previous first, within MAX_FRAME_GAP) and that
    still hold another proposal: status proposed (never edited, corrected or unknown), not open in an editor,
    and not already a warp of ``accepted``. Whether the warp fits is checked when it is made."""

    if project.status(accepted) not in TRAINED:  # corrected (or reviewed: the same pixels, checked twice)
        return []
    prev, nxt = frames.neighbours(accepted)
    wanted = []
    for other in (nxt, prev):
        if other is None or project.status(other) != "proposed":
            continue
        if neighbour_source(frames, other, lambda n: project.status(n) in TRAINED) != accepted:
            continue
        if warped_from(getattr(project.record(other), "model", None)) == accepted or project.is_held(other):
            continue
        wanted.append(other)
    return wanted


class Prefetcher:
    """Background proposals for the next ``ahead`` images of an order; see the module docstring."""

    def __init__(self, project, *, ahead: int = 2, model_path: str | Path | None = None, device: str = "cpu",
                 nice: int = 5, on_ready: Callable[[str], None] | None = None,
                 on_error: Callable[[str, str], None] | None = None,
                 on_skip: Callable[[str], None] | None = None):
        self.project = project
        self.ahead = max(0, int(ahead))
        self.model_path = Path(model_path) if model_path is not None else None
        self.device = device
        self.nice = int(nice)
        self.on_ready = on_ready
        self.on_error = on_error
        self.on_skip = on_skip
        self._cond = threading.Condition()
        self._queue: list[str] = []
        self._accepted: list[str] = []  # corrected images whose neighbours come first (see accepted)
        self._busy: str | None = None
        self._closed = False
        self._predictor = None
        self._model_key: tuple[str, int] | None = None
        self._frames = None  # (number of images, FrameIndex): see _frame_index
        self.proposed: list[str] = []  # names written, in order (for the app's bookkeeping and tests)
        self._thread = threading.Thread(target=self._run, name="labeltool-prefetch", daemon=True)
        self._thread.start()

    # ---- planning ------------------------------------------------------------------------------
    def needs_proposal(self, name: str, model_name: str | None = None) -> bool:
        """No mask yet, or a proposal from another model than ``model_name``; never a corrected image."""
        status = self.project.status(name)
        if status == "none":
            return True
        if status != "proposed" or model_name is None:
            return False
        made_by = str(getattr(self.project.record(name), "model", None) or "")
        return not made_by.startswith(model_name)  # "model-X.safetensors + warp of NAME" is model-X's too

    def plan(self, order: Sequence[str], current: str | None = None, ahead: int | None = None) -> list[str]:
        """The images ``schedule`` would propose: up to ``ahead`` (default ``self.ahead``) after ``current``
        in ``order`` that need it."""
        ahead = self.ahead if ahead is None else max(0, int(ahead))
        order = list(order)
        start = order.index(current) + 1 if current in order else 0
        model_name = self._current_model_name()
        wanted = []
        for name in order[start:]:
            if len(wanted) >= ahead:
                break
            if name != current and self.needs_proposal(name, model_name):
                wanted.append(name)
        return wanted

    def schedule(self, order: Sequence[str], current: str | None = None, ahead: int | None = None) -> list[str]:
        """Propose the next images after ``current`` in ``order`` in the background; returns them."""
        wanted = self.plan(order, current, ahead)
        with self._cond:
            self._queue = [n for n in wanted if n != self._busy]
            self._cond.notify_all()
        return wanted

    def accepted(self, names: Sequence[str]) -> None:
        """These images were just corrected: the frames :func:`after_accept` names for them are proposed again
        from their warp, before the plan (worked out in the background thread)."""
        with self._cond:
            self._accepted += [n for n in names if n not in self._accepted]
            self._cond.notify_all()

    def pending(self) -> list[str]:
        with self._cond:
            return ([self._busy] if self._busy else []) + list(self._accepted) + list(self._queue)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or being proposed (tests, benchmarks); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._accepted and self._busy is None, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop after the image being proposed (if any); the thread ends."""
        with self._cond:
            self._closed = True
            self._queue = []
            self._accepted = []
            self._cond.notify_all()
        self._thread.join(timeout)

    # ---- the thread ----------------------------------------------------------------------------
    def _current_model_name(self) -> str | None:
        try:
            return self._resolve_model().name
        except Exception:
            return None

    def _resolve_model(self) -> Path:
        from model.registry.registry import resolve_model_path

        return resolve_model_path(self.project, self.model_path)

    def _frame_index(self):
        """The project's frames by sequence (neighbour proposals), built once and again when a rescan changed
        the number of images (building it takes 0.4 s at 100,000 images; an index that misses a new frame
        only means that frame gets the network's proposal instead of a warp)."""

        names = self.project.names()
        regex = project_group_regex(self.project)  # the project's sequence setting
        if self._frames is None or self._frames[:2] != (len(names), regex):
            self._frames = (len(names), regex, FrameIndex(names, regex))
        return self._frames[2]

    def _ensure_predictor(self):
        from model.registry.registry import load_checked_model

        from .predict import Predictor
        from .runtime import proposal_runtime

        path = self._resolve_model()
        key = (str(path), path.stat().st_mtime_ns)
        if self._predictor is None or key != self._model_key:
            loaded = load_checked_model(self.project, path, self.device)
            predictor = Predictor(loaded, device=self.device, batch_size=1,
                                  runtime=proposal_runtime(loaded, self.device),
                                  quantised_confidence=True)  # as propose_dataset's: the plane as stored
            predictor.model_name = loaded.path.name
            self._predictor, self._model_key = predictor, key
        return self._predictor

    def _run(self) -> None:
        if self.nice and hasattr(os, "setpriority"):
            try:  # Linux: the nice value is per thread (and inherited by threads it starts)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except OSError:
                pass
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._queue or self._accepted)
                if self._closed:
                    return
                if self._accepted:
                    self._busy = self._accepted.pop(0)
                    rewarp = True
                else:
                    self._busy = self._queue.pop(0)
                    rewarp = False
            try:
                if rewarp:
                    for name in self._after_accept(self._busy):
                        self._propose(name, neighbour_only=True)
                else:
                    self._propose(self._busy)
            finally:
                with self._cond:
                    self._busy = None
                    self._cond.notify_all()

    def _after_accept(self, accepted: str) -> list[str]:
        try:
            return after_accept(self.project, accepted, self._frame_index())
        except Exception as exc:  # reported, never raised into nowhere
            log.warning("frames next to %s: %s", accepted, exc)
            if self.on_error is not None:
                self.on_error(accepted, f"{type(exc).__name__}: {exc}")
            return []

    def _propose(self, name: str, neighbour_only: bool = False) -> None:
        """One image through the proposal run (``neighbour_only``: only its neighbour's warp is written)."""
        from .propose import propose_dataset

        try:
            predictor = self._ensure_predictor()
            if neighbour_only or self.needs_proposal(name, predictor.model_name):
                written = propose_dataset(self.project, names=[name], predictor=predictor, batch_size=1,
                                          cancel=lambda: self._closed, on_skip=self.on_skip,
                                          frames=self._frame_index(), neighbour_only=neighbour_only)
                if written:
                    self.proposed.extend(written)
                    if self.on_ready is not None:
                        self.on_ready(name)
        except Exception as exc:  # reported, never raised into nowhere
            log.warning("prefetch of %s failed: %s", name, exc)
            if self.on_error is not None:
                self.on_error(name, f"{type(exc).__name__}: {exc}")
