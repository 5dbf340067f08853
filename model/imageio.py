"""Reading images and masks, writing masks as indexed PNGs. Every error names the file.

Images come in two forms:

* ``read_raw(path)``: the data as stored, an (H, W, C) array keeping its dtype (uint8, uint16, int32,
  float32) and its bands (1 grey, 3 RGB, 4+ multi-band). This is what the network is fed (through the
  model card's normalisation, ``model.normalization``).
* ``read_image(path)`` / ``display_rgb(raw, window)``: an (H, W, 3) uint8 picture for people and for the
  drawing tools. A ``DisplayWindow`` (min/max, gamma, auto-levels by percentiles) maps the data to the
  screen; it never changes the data.

Which files: PNG, JPEG, BMP, WebP through Pillow; TIFF through tifffile. PNG/WebP alpha is transparency
and is dropped (a 4-sample TIFF is kept as 4 bands: RGB + near-infrared is common). Palette images
become RGB. A multi-page TIFF is read only when its metadata says the pages are the channels of one
image (ImageJ hyperstack or OME axes ``CYX``); any other multi-page TIFF (a z-stack, a time series,
pages without axis metadata) is refused with a message naming the file, the page count and the axes:
label each page as its own image file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .atomic import atomic_write
from .errors import ImageReadError, MaskError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
TIFF_SUFFIXES = (".tif", ".tiff")
MAX_CHANNELS = 64  # more bands than this is a volume or a spectrum cube, not an image to paint on
MASK_SUFFIX = "_P.png"


def _open(path: Path, error_cls) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
        return image
    except FileNotFoundError as exc:
        raise error_cls(path, "file not found") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise error_cls(path, f"image too large to open safely ({exc}); Pillow's "
                              "decompression-bomb limit protects memory") from exc
    except UnidentifiedImageError as exc:
        raise error_cls(path, "not an image file Pillow can read (corrupt or wrong format)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise error_cls(path, f"cannot decode image ({exc}); the file may be truncated or corrupt") from exc


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        _, shape, _ = _tiff_layout(path)
        return shape[1], shape[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except FileNotFoundError as exc:
        raise ImageReadError(path, "file not found") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(path, f"image too large to open safely ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageReadError(path, "not an image file Pillow can read (corrupt or wrong format)") from exc


def read_raw(path: str | Path) -> np.ndarray:
    """The image data as stored: an (H, W, C) array keeping its dtype (C = 1 grey, 3 RGB, 4+ bands).

    Pillow formats: grey (L, I;16, I, F) give C = 1, RGB and palette give C = 3 (alpha dropped).
    TIFF: see the module docstring (multi-page only as a declared channel stack)."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        return _read_tiff(path)
    image = _open(path, ImageReadError)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        array = np.asarray(image).astype(np.uint16)
    elif mode in ("I", "F"):
        array = np.asarray(image)
    elif mode in ("L", "1", "LA"):
        array = np.asarray(image.convert("L") if mode != "L" else image, dtype=np.uint8)
    else:
        array = np.asarray(image if mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array)


def _tiff_layout(path: Path) -> tuple[object, tuple[int, int, int], list[int]]:
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


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    _, (h, w, c), order = _tiff_layout(path)
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


def read_image(path: str | Path, window: DisplayWindow | dict | None = None) -> np.ndarray:
    """An RGB picture of the image as an (H, W, 3) uint8 array (``display_rgb`` of ``read_raw``): 8-bit
    RGB as stored, grey repeated, 16-bit/float through ``window`` (default: auto-levels)."""
    return display_rgb(read_raw(path), window)


# ---- display windowing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DisplayWindow:
    """How data maps to the screen; never changes the data.

    ``low``/``high``: the data values shown black and white (None: from ``auto`` or the dtype's range).
    ``auto``: take low/high from the ``percentiles`` of the shown channels (auto-levels).
    ``gamma``: applied after the window (>1 brightens the dark end). ``channels``: which bands are shown
    as red, green, blue (default: the first three; a grey image shows its one band)."""

    low: float | None = None
    high: float | None = None
    gamma: float = 1.0
    auto: bool = False
    percentiles: tuple[float, float] = (0.5, 99.5)
    channels: tuple[int, ...] | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> DisplayWindow:
        d = dict(d or {})
        known = {k: d[k] for k in ("low", "high", "gamma", "auto", "percentiles", "channels") if k in d}
        for key in ("percentiles", "channels"):
            if known.get(key) is not None:
                known[key] = tuple(known[key])
        window = cls(**known)
        if not window.gamma > 0:
            raise ValueError(f"display gamma must be positive, got {window.gamma}")
        return window

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "gamma": self.gamma, "auto": self.auto,
                "percentiles": list(self.percentiles), "channels": None if self.channels is None else list(self.channels)}

    @property
    def is_identity(self) -> bool:
        return self.low is None and self.high is None and self.gamma == 1.0 and not self.auto


def shown_channels(raw: np.ndarray, window: DisplayWindow) -> np.ndarray:
    """(H, W, 1 or 3) view of the bands a window shows."""
    c = raw.shape[2]
    if window.channels is not None:
        picked = [int(i) for i in window.channels]
        if any(not 0 <= i < c for i in picked):
            raise ValueError(f"display channels {picked} do not exist in an image with {c} channels")
        return raw[:, :, picked]
    if c in (1, 3):
        return raw
    if c == 2:
        return raw[:, :, [0, 1, 1]]
    return raw[:, :, :3]


def window_limits(raw: np.ndarray, window: DisplayWindow | None = None) -> tuple[float, float]:
    """The (low, high) data values a window maps to black and white for this image."""
    window = window or DisplayWindow()
    data = shown_channels(raw, window)
    low, high = window.low, window.high
    if window.auto and (low is None or high is None):
        step = max(1, int(np.sqrt(data.shape[0] * data.shape[1] / 1_000_000)))
        sample = data[::step, ::step].astype(np.float32, copy=False)
        finite = sample[np.isfinite(sample)]
        if finite.size:
            plo, phi = np.percentile(finite, window.percentiles)
            low = float(plo) if low is None else low
            high = float(phi) if high is None else high
    if low is None or high is None:
        if data.dtype == np.uint8:
            dlo, dhi = 0.0, 255.0
        elif data.dtype.kind in "ui":
            dlo, dhi = 0.0, float(data.max(initial=0))  # 16-bit without a window: the image's own range
        else:
            finite = data[np.isfinite(data)]
            dlo, dhi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        low = dlo if low is None else low
        high = dhi if high is None else high
    if not high > low:
        high = low + 1.0
    return float(low), float(high)


def display_rgb(raw: np.ndarray, window: DisplayWindow | dict | None = None) -> np.ndarray:
    """(H, W, 3) uint8 picture of an (H, W, C) array of any dtype through a display window.

    Default window: 8-bit data as stored, anything else auto-levelled. Integer data up to 16 bits go
    through a lookup table (fast on 50 MP); the input array is never written to."""
    raw = np.asarray(raw)
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.ndim != 3:
        raise ValueError(f"images must be (H, W) or (H, W, C), got shape {raw.shape}")
    if window is None:
        window = DisplayWindow() if raw.dtype == np.uint8 else DisplayWindow(auto=True)
    elif isinstance(window, dict):
        window = DisplayWindow.from_dict(window)
    data = shown_channels(raw, window)
    if data.dtype == np.uint8 and window.is_identity:
        out = data
    else:
        low, high = window_limits(raw, window)
        if data.dtype in (np.uint8, np.uint16):
            levels = np.arange(256 if data.dtype == np.uint8 else 65536, dtype=np.float32)
            out = _window_values(levels, low, high, window.gamma)[data]
        else:
            out = np.empty(data.shape, dtype=np.uint8)
            rows = max(1, 4_000_000 // max(1, data.shape[1] * data.shape[2]))
            for y in range(0, data.shape[0], rows):
                out[y:y + rows] = _window_values(data[y:y + rows].astype(np.float32), low, high, window.gamma)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out)


def _window_values(values: np.ndarray, low: float, high: float, gamma: float) -> np.ndarray:
    x = np.clip((values - low) / (high - low), 0.0, 1.0)
    x = np.nan_to_num(x, nan=0.0)
    if gamma != 1.0:
        x = x ** (1.0 / gamma)
    return (x * 255.0 + 0.5).astype(np.uint8)


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
    from .atomic import atomic_write_bytes

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
