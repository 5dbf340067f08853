"""The one rule for pixels nobody painted (no Qt): in a project without a Void class, an image that
had no mask starts with every pixel *unpainted* (:attr:`LabelLayer.unpainted`); such a pixel holds
class 0 only as a placeholder, and must not be trained on as class 0. Accept asks this module."""

from __future__ import annotations

from collections.abc import Sequence

from model.project.codes import find_void


def unpainted_problem(layer, codes: Sequence[str]) -> str | None:
    """The message to show instead of accepting ``layer`` while pixels are unpainted, else None.

    ``codes``: the project's class names (``codes[0]`` is what unpainted pixels would be trained as)."""
    n = layer.unpainted_count()
    if n == 0:
        return None
    first = str(codes[0]) if len(codes) else "class 0"
    pixels = "1 pixel is" if n == 1 else f"{n:,} pixels are"
    if find_void(list(codes)) is not None:  # Void was added since the map was saved: the pixels still hold 0
        return f"{pixels} not painted, so they would be trained as '{first}': paint them (F fills)"
    return (f"{pixels} not painted and this project has no Void class, so they would be trained as "
            f"'{first}': paint them (F fills) or add Void to codes.txt")


__all__ = ["unpainted_problem"]
