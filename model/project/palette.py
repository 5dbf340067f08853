"""Class colours: CamVid's standard colours for the names it knows, distinct generated colours otherwise."""

from __future__ import annotations

import colorsys

import numpy as np

# CamVid's label_colors.txt (32 classes) plus the SegNet 11-class names.
CAMVID_COLOURS: dict[str, tuple[int, int, int]] = {
    "animal": (64, 128, 64), "archway": (192, 0, 128), "bicyclist": (0, 128, 192),
    "bridge": (0, 128, 64), "building": (128, 0, 0), "car": (64, 0, 128),
    "cartluggagepram": (64, 0, 192), "child": (192, 128, 64), "column_pole": (192, 192, 128),
    "fence": (64, 64, 128), "lanemkgsdriv": (128, 0, 192), "lanemkgsnondriv": (192, 0, 64),
    "misc_text": (128, 128, 64), "motorcyclescooter": (192, 0, 192), "othermoving": (128, 64, 64),
    "parkingblock": (64, 192, 128), "pedestrian": (64, 64, 0), "road": (128, 64, 128),
    "roadshoulder": (128, 128, 192), "sidewalk": (0, 0, 192), "signsymbol": (192, 128, 128),
    "sky": (128, 128, 128), "suvpickuptruck": (64, 128, 192), "trafficcone": (0, 0, 64),
    "trafficlight": (0, 64, 64), "train": (192, 64, 128), "tree": (128, 128, 0),
    "truck_bus": (192, 128, 192), "tunnel": (64, 0, 64), "vegetationmisc": (192, 192, 0),
    "void": (0, 0, 0), "wall": (64, 192, 0),
    # SegNet CamVid-11 names that differ from the 32-class ones
    "pole": (192, 192, 128), "pavement": (60, 40, 222), "unlabelled": (0, 0, 0), "unlabeled": (0, 0, 0),
}


def _generated(index: int) -> tuple[int, int, int]:
    """Well-separated colours: hues stepped by the golden ratio, alternating brightness."""
    hue = (index * 0.618033988749895 + 0.13) % 1.0
    value = 0.95 if index % 2 == 0 else 0.7
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, value)
    return int(r * 255), int(g * 255), int(b * 255)


# The golden-ratio colours above stay the first ones (existing projects keep their look); past these, each
# new colour is the one farthest (in CIELAB) from every colour already taken, so up to 255 classes stay
# distinguishable.
GOLDEN_COLOURS = 12


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]])
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1)


_CANDIDATES = np.stack(np.meshgrid(*[np.arange(0, 256, 17)] * 3, indexing="ij"), -1).reshape(-1, 3)


def _farthest(used: list[tuple[int, int, int]], count: int) -> list[tuple[int, int, int]]:
    """``count`` colours from a 16-level RGB grid, each the farthest in CIELAB from all colours before it."""
    lab = _srgb_to_lab(_CANDIDATES)
    distance = np.full(len(lab), np.inf)
    for colour in used:
        distance = np.minimum(distance, ((lab - _srgb_to_lab(np.array(colour))) ** 2).sum(-1))
    picked = []
    for _ in range(count):
        best = int(np.argmax(distance))
        picked.append(tuple(int(v) for v in _CANDIDATES[best]))
        distance = np.minimum(distance, ((lab - lab[best]) ** 2).sum(-1))
    return picked


def default_palette(names: list[str]) -> np.ndarray:
    """An (N, 3) uint8 colour table for the class names, CamVid colours where the name is known; all
    colours differ (up to 256 classes)."""
    palette = np.zeros((len(names), 3), dtype=np.uint8)
    used: set[tuple[int, int, int]] = set()
    unassigned = []
    for index, name in enumerate(names):
        colour = CAMVID_COLOURS.get(name.strip().casefold())
        if colour is None or colour in used:
            unassigned.append(index)
            continue
        palette[index] = colour
        used.add(colour)
    counter = 0
    for index in unassigned[:GOLDEN_COLOURS]:
        colour = _generated(counter)
        while colour in used:
            counter += 1
            colour = _generated(counter)
        counter += 1
        palette[index] = colour
        used.add(colour)
    rest = unassigned[GOLDEN_COLOURS:]
    if rest:
        taken = sorted(used) + [(0, 0, 0), (255, 255, 255)]  # black and white: Void and outlines
        for index, colour in zip(rest, _farthest(taken, len(rest)), strict=True):
            palette[index] = colour
    return palette


def validate_palette(palette, num_classes: int) -> np.ndarray:
    array = np.asarray(palette)
    if array.ndim != 2 or array.shape[1] != 3 or array.shape[0] < num_classes:
        raise ValueError(f"palette must have shape ({num_classes}, 3), got {array.shape}")
    if array.min() < 0 or array.max() > 255:
        raise ValueError("palette colours must be 0..255")
    return array[:num_classes].astype(np.uint8)


# ---- display palettes (never written to a mask file) ----------------------------------------------------
# "default": the project's colours (codes.txt, else default_palette); "okabe-ito": colour-blind safe.
PALETTES = ("default", "okabe-ito")
PALETTE_LABELS = {"default": "Project colours", "okabe-ito": "Colour-blind safe (Okabe-Ito)"}

# Okabe & Ito (2008), "Color Universal Design": eight colours told apart with every common colour-vision
# deficiency. Black is kept for Void; the other seven go to the classes in order.
OKABE_ITO = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
             (204, 121, 167))

# Machado, Oliveira & Fernandes (2009) dichromacy simulation matrices (severity 1.0), on linear RGB.
CVD_MATRICES = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def simulate_cvd(rgb, kind: str) -> np.ndarray:
    """sRGB colours (..., 3) as seen with ``kind`` (a key of CVD_MATRICES), as float sRGB 0..255."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    seen = np.clip(linear @ CVD_MATRICES[kind].T, 0.0, 1.0)
    return 255.0 * np.where(seen > 0.0031308, 1.055 * seen ** (1 / 2.4) - 0.055, 12.92 * seen)


def _views(rgb) -> list[np.ndarray]:
    """CIELAB of the colours for normal vision and the three dichromacies."""
    return [_srgb_to_lab(rgb)] + [_srgb_to_lab(simulate_cvd(rgb, kind)) for kind in CVD_MATRICES]


def _farthest_for_all(used: list[tuple[int, int, int]], count: int) -> list[tuple[int, int, int]]:
    """Like :func:`_farthest`, but a colour's distance to the ones taken is the smallest over normal vision,
    protanopia, deuteranopia and tritanopia: each new colour is the one best told apart by everybody."""
    views = _views(_CANDIDATES)
    distance = np.full(len(_CANDIDATES), np.inf)
    for colour in used:
        for view, lab in zip(views, _views(np.array([colour], dtype=np.float64)), strict=True):
            distance = np.minimum(distance, ((view - lab[0]) ** 2).sum(-1))
    picked = []
    for _ in range(count):
        best = int(np.argmax(distance))
        picked.append(tuple(int(v) for v in _CANDIDATES[best]))
        for view in views:
            distance = np.minimum(distance, ((view - view[best]) ** 2).sum(-1))
    return picked


def okabe_ito_palette(count: int, void_index: int | None = None) -> np.ndarray:
    """An (N, 3) colour table safe for colour-blind eyes: Void black, the first seven other classes the
    Okabe-Ito colours, any further class the colour farthest (CIELAB, the smallest distance under normal
    vision and simulated protanopia, deuteranopia and tritanopia) from every colour already used."""
    palette = np.zeros((count, 3), dtype=np.uint8)
    others = [i for i in range(count) if i != void_index]
    fixed = list(OKABE_ITO[:len(others)])
    extra = _farthest_for_all(list(OKABE_ITO) + [(0, 0, 0), (255, 255, 255)], max(len(others) - len(fixed), 0))
    for index, colour in zip(others, fixed + extra, strict=True):
        palette[index] = colour
    return palette


def display_palette(choice: str | None, project_palette, void_index: int | None = None) -> np.ndarray:
    """The colours the app shows the classes in for the display setting ``choice`` (one of PALETTES; None or
    an unknown value: "default", the project's own colours). Only the display: masks keep their palette."""
    project_palette = np.asarray(project_palette, dtype=np.uint8)
    if choice == "okabe-ito":
        return okabe_ito_palette(len(project_palette), void_index)
    return project_palette.copy()
