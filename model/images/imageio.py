"""Reading images and masks, writing masks as indexed PNGs. Every error names the file.

Images come in two forms:

* ``read_raw(path)``: the data as stored, an (H, W, C) array keeping its dtype (uint8, uint16, int32,
  float32) and its bands (1 grey, 3 RGB, 4+ multi-band). This is what the network is fed (through the
  model card's normalisation, ``model.nets.normalization``).
* ``read_image(path)`` / ``display_rgb(raw, window)``: an (H, W, 3) uint8 picture for people and for the
  drawing tools. A ``DisplayWindow`` (min/max, gamma, auto-levels by percentiles) maps the data to the
  screen; it never changes the data.

Which files: PNG, JPEG, BMP, WebP through Pillow; TIFF through tifffile. PNG/WebP alpha is transparency
and is dropped (a 4-sample TIFF is kept as 4 bands: RGB + near-infrared is common). Palette images
become RGB. A multi-page TIFF is read only when its metadata says the pages are the channels of one
image (ImageJ hyperstack or OME axes ``CYX``); any other multi-page TIFF (a z-stack, a time series,
pages without axis metadata) is refused with a message naming the file, the page count and the axes:
label each page as its own image file (model.tiff). Display windowing is in model.images.display.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from model.atomic import atomic_write, atomic_write_bytes
from model.errors import ImageReadError, MaskError

from .display import DisplayWindow, display_rgb
from .tiff import read_tiff, tiff_layout

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
TIFF_SUFFIXES = (".tif", ".tiff")
MASK_SUFFIX = "_P.png"


@contextlib.contextmanager
def _pillow_errors(path: Path, error_cls, *, header_only: bool = False) -> Iterator[None]:
    """Pillow's errors (and its decompression-bomb warning, made an error) as ``error_cls`` naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except FileNotFoundError as exc:
        raise error_cls(path, "file not found") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise error_cls(path, f"image too large to open safely ({exc}); Pillow's "
                              "decompression-bomb limit protects memory") from exc
    except UnidentifiedImageError as exc:
        raise error_cls(path, "not an image file Pillow can read (corrupt or wrong format)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if header_only:
            raise error_cls(path, "not an image file Pillow can read (corrupt or wrong format)") from exc
        raise error_cls(path, f"cannot decode image ({exc}); the file may be truncated or corrupt") from exc


def _open(path: Path, error_cls) -> Image.Image:
    with _pillow_errors(path, error_cls), Image.open(path) as image:
        image.load()
    return image


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        _, shape, _ = tiff_layout(path)
        return shape[1], shape[0]
    with _pillow_errors(path, ImageReadError, header_only=True), Image.open(path) as image:
        return image.size


def _pixels(image: Image.Image) -> np.ndarray:
    """``np.asarray(image)``, a band of rows at a time for a large image: whole, Pillow's ``tobytes`` joins a
    list of encoded chunks, so a 50 MP photo briefly took twice its 150 MB beside its decoded form."""
    width, height = image.size
    if width * height <= 1 << 22:
        return np.asarray(image)
    first = np.asarray(image.crop((0, 0, width, 1)))
    out = np.empty((height, *first.shape[1:]), dtype=first.dtype)
    rows = max(1, (4 << 20) // max(1, first.nbytes))  # 4 MB bands
    for top in range(0, height, rows):
        out[top:top + rows] = np.asarray(image.crop((0, top, width, min(height, top + rows))))
    return out


def read_raw(path: str | Path) -> np.ndarray:
    """The image data as stored: an (H, W, C) array keeping its dtype (C = 1 grey, 3 RGB, 4+ bands).

    Pillow formats: grey (L, I;16, I, F) give C = 1, RGB and palette give C = 3 (alpha dropped).
    TIFF: see the module docstring (multi-page only as a declared channel stack)."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        return read_tiff(path)
    image = _open(path, ImageReadError)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        array = np.asarray(image).astype(np.uint16)
    elif mode in ("I", "F"):
        array = np.asarray(image)
    elif mode in ("L", "1", "LA"):
        array = _pixels(image.convert("L") if mode != "L" else image)
    else:
        array = _pixels(image if mode == "RGB" else image.convert("RGB"))
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array)


def read_image(path: str | Path, window: DisplayWindow | dict | None = None) -> np.ndarray:
    """An RGB picture of the image as an (H, W, 3) uint8 array (``display_rgb`` of ``read_raw``): 8-bit
    RGB as stored, grey repeated, 16-bit/float through ``window`` (default: auto-levels)."""
    return display_rgb(read_raw(path), window)


def read_mask(
    path: str | Path,
    num_classes: int | None = None,
    colour_table: np.ndarray | None = None,
    expected_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """A class-index mask as an (H, W) uint8 array.

    Single-channel (L) and palette (P) PNGs hold the index in the pixel value. An RGB mask is an error
    unless ``colour_table`` ((N, 3) colours, row = class index) maps its colours to classes.
    ``expected_size`` is (width, height) of the image the mask belongs to.
    """
    path = Path(path)
    image = _open(path, MaskError)
    if expected_size is not None and image.size != tuple(expected_size):
        raise MaskError(path, f"mask is {image.size[0]}x{image.size[1]} but its image is "
                              f"{expected_size[0]}x{expected_size[1]}")
    mode = image.mode
    if mode in ("L", "P"):
        mask = np.asarray(image, dtype=np.uint8).copy()
    elif mode == "1":
        mask = np.asarray(image, dtype=np.uint8).copy()
    elif mode in ("I;16", "I;16B", "I"):
        wide = np.asarray(image)
        if wide.size and (wide.max() > 255 or wide.min() < 0):
            raise MaskError(path, f"16-bit mask holds class index {int(wide.max())}; at most 255 supported")
        mask = wide.astype(np.uint8)
    elif mode in ("RGB", "RGBA", "LA", "PA"):
        if mode == "LA":
            return read_mask_values(path, np.asarray(image.getchannel(0), dtype=np.uint8), num_classes)
        if colour_table is None:
            raise MaskError(path, f"mask is a colour ({mode}) image; class masks hold one class index per "
                                  "pixel (mode L or P). Give a colour table to convert colour-coded masks")
        return rgb_to_index(np.asarray(image.convert("RGB")), colour_table, path)
    else:
        raise MaskError(path, f"unsupported mask mode {mode}")
    return read_mask_values(path, mask, num_classes)


def read_mask_values(path: Path, mask: np.ndarray, num_classes: int | None) -> np.ndarray:
    if num_classes is not None and mask.size:
        top = int(mask.max())
        if top >= num_classes:
            bad = mask >= num_classes
            ys, xs = np.nonzero(bad)
            raise MaskError(path, f"class index {top} is not in codes.txt ({num_classes} classes, "
                                  f"0..{num_classes - 1}); {int(bad.sum())} pixels, first at x={xs[0]}, y={ys[0]}")
    return mask


def rgb_to_index(rgb: np.ndarray, colour_table: np.ndarray, path: str | Path = "<array>",
                 unknown: int | None = None) -> np.ndarray:
    """Map an (H, W, 3) colour-coded mask to class indices. A colour not in the table is an error
    naming its count and first location, unless ``unknown`` gives the class to map it to."""
    table = np.asarray(colour_table, dtype=np.int64)
    keys = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    table_keys = (table[:, 0] << 16) | (table[:, 1] << 8) | table[:, 2]
    lookup = {int(k): i for i, k in reversed(list(enumerate(table_keys)))}
    uniq, inverse = np.unique(keys.ravel(), return_inverse=True)
    mapped = np.empty(len(uniq), dtype=np.int64)
    for j, key in enumerate(uniq):
        index = lookup.get(int(key))
        if index is None:
            if unknown is None:
                where = np.argwhere(keys == key)[0]
                count = int((keys == key).sum())
                colour = (int(key) >> 16, (int(key) >> 8) & 255, int(key) & 255)
                raise MaskError(path, f"colour {colour} is not in the colour table: {count} pixels, "
                                      f"first at x={where[1]}, y={where[0]}")
            index = unknown
        mapped[j] = index
    return mapped[inverse].reshape(keys.shape).astype(np.uint8)


def encode_mask(mask: np.ndarray, palette: np.ndarray | None = None, path: str | Path = "<mask>") -> bytes:
    """An indexed PNG (pixel value = class index, palette = class colours) as bytes."""
    import io

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise MaskError(path, f"a mask must be 2-D (H, W) class indices, got shape {mask.shape}")
    if mask.dtype != np.uint8:
        if mask.size and (mask.min() < 0 or mask.max() > 255):
            raise MaskError(path, "class indices must be 0..255")
        mask = mask.astype(np.uint8)
    mask = np.ascontiguousarray(mask)
    image = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
    flat = np.zeros((256, 3), dtype=np.uint8)
    if palette is not None:
        colours = np.asarray(palette, dtype=np.uint8)[:256]
        flat[: len(colours)] = colours
    image.putpalette(flat.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def write_mask(path: str | Path, mask: np.ndarray, palette: np.ndarray | None = None) -> Path:
    """Write an indexed PNG whose pixel values are class indices and whose palette shows class colours."""

    return atomic_write_bytes(path, encode_mask(mask, palette, path))


def write_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> Path:
    """Write an RGB image atomically; the format follows the file suffix (PNG or JPEG)."""
    path = Path(path)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    image = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    kwargs = {"quality": quality} if fmt == "JPEG" else {"compress_level": 3}
    return atomic_write(path, lambda tmp: image.save(tmp, format=fmt, **kwargs))


def mask_shape_problem(mask, width: int, height: int) -> str | None:
    """Why ``mask`` cannot be the mask of a ``width`` x ``height`` image, or None when it can. One message
    for every place that checks: an (H, W, 3) colour array is told it must be 2-D, with its real shape."""
    shape = tuple(np.shape(mask))
    if len(shape) != 2:
        return (f"a mask must be 2-D (height, width) class indices; got an array of shape {shape} "
                f"for an image of {width}x{height} (width x height)")
    if shape != (height, width):
        return f"mask is {shape[1]}x{shape[0]}, which does not match its image ({width}x{height}, width x height)"
    return None


__all__ = ["IMAGE_SUFFIXES", "MASK_SUFFIX", "TIFF_SUFFIXES", "encode_mask", "image_size", "mask_shape_problem",
           "read_image", "read_mask", "read_mask_values", "read_raw", "rgb_to_index", "write_image", "write_mask"]
