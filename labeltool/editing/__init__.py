"""Qt-free editing model: label mask, palette, preserve mode, undo history, overlay."""

from .history import DEFAULT_BUDGET, Change, History
from .layer import PRESERVE_CLASS, PRESERVE_MODES, PRESERVE_OFF, PRESERVE_VOID, LabelLayer, guess_void_index
from .outline import boundary
from .overlay import Overlay, confidence_overlay
from .regions import Superpixels, compute_superpixels, superpixels_async
from .unpainted import unpainted_problem

__all__ = [
    "Change", "DEFAULT_BUDGET", "History", "LabelLayer", "Overlay", "PRESERVE_CLASS",
    "PRESERVE_MODES", "PRESERVE_OFF", "PRESERVE_VOID", "Superpixels", "boundary", "compute_superpixels",
    "confidence_overlay", "guess_void_index", "superpixels_async", "unpainted_problem",
]
