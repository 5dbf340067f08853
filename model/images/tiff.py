"""TIFF images through tifffile: one 2-D image with channels per file.

A multi-page TIFF is read only when its metadata says the pages are the channels of one image (ImageJ
hyperstack or OME axes ``CYX``); any other (a z-stack, a time series, pages without axis metadata) is
refused with a message naming the file, the page count and the axes. model.images.imageio reads every format
through here or Pillow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from model.errors import ImageReadError

MAX_CHANNELS = 64  # more bands than this is a volume or a spectrum cube, not an image to paint on


def tiff_layout(path: Path) -> tuple[object, tuple[int, int, int], list[int]]:
    """(tifffile series, (H, W, C), transpose order to (Y, X, C)) of a TIFF; refuses what is not one
    2-D image with channels (see the module docstring)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes, shape, pages = series.axes, tuple(series.shape), len(tif.pages)
    except FileNotFoundError as exc:
        raise ImageReadError(path, "file not found") from exc
    except (tifffile.TiffFileError, OSError, ValueError, IndexError, KeyError) as exc:
        raise ImageReadError(path, f"not a TIFF file tifffile can read ({exc})") from exc
    dims = [(a, n) for a, n in zip(axes, shape, strict=True) if n > 1 or a in "YX"]
    names = "".join(a for a, _ in dims)
    channel_axes = [a for a, _ in dims if a in "CS"]
    other = [a for a, _ in dims if a not in "YXCS"]
    if other or len(channel_axes) > 1 or "Y" not in names or "X" not in names:
        described = "x".join(str(n) for _, n in dims)
        raise ImageReadError(path, f"multi-page TIFF with {pages} pages (axes {names}, shape {described}); "
                                   "labeltool labels one 2-D image per file and reads pages as channels only "
                                   "when the file says they are (ImageJ/OME axes 'CYX'): save each page as its "
                                   "own image, e.g. tifffile.imwrite(f'page{i}.tif', stack[i])")
    order = [names.index("Y"), names.index("X")] + ([names.index(channel_axes[0])] if channel_axes else [])
    h, w = shape_of(dims, "Y"), shape_of(dims, "X")
    c = shape_of(dims, channel_axes[0]) if channel_axes else 1
    if c > MAX_CHANNELS:
        raise ImageReadError(path, f"TIFF has {c} channels (axes {names}); at most {MAX_CHANNELS} are supported")
    if h * w > 2 * Image.MAX_IMAGE_PIXELS:
        raise ImageReadError(path, f"image too large to open safely ({w}x{h} pixels)")
    return series, (h, w, c), order


def shape_of(dims: list[tuple[str, int]], axis: str) -> int:
    return next(n for a, n in dims if a == axis)


def read_tiff(path: Path) -> np.ndarray:
    import tifffile

    _, (h, w, c), order = tiff_layout(path)
    try:
        data = tifffile.imread(path, series=0)
    except (tifffile.TiffFileError, OSError, ValueError, MemoryError) as exc:
        raise ImageReadError(path, f"cannot decode TIFF ({exc}); the file may be truncated or corrupt") from exc
    data = np.squeeze(data)
    if data.ndim == 2:
        data = data[:, :, None] if len(order) == 2 else data
    else:
        data = np.transpose(data, order)
    data = data.reshape(h, w, c)
    if data.dtype == np.bool_:
        data = data.astype(np.uint8) * 255
    elif data.dtype == np.float16 or data.dtype == np.float64:
        data = data.astype(np.float32)
    elif data.dtype.kind == "c":
        raise ImageReadError(path, "complex-valued TIFF images are not supported")
    return np.ascontiguousarray(data)
