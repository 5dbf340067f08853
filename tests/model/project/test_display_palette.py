"""Colour-blind-safe display palettes (issue 19, item 7a): a per-project display setting, never the masks."""

import itertools

import numpy as np

from model.project.palette import (
    CVD_MATRICES,
    OKABE_ITO,
    _srgb_to_lab,
    default_palette,
    display_palette,
    okabe_ito_palette,
    simulate_cvd,
)

CAMVID11 = ["Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian",
            "Bicyclist", "Void"]


def _closest_pair(palette, kind=None) -> float:
    rgb = np.asarray(palette, np.float64) if kind is None else simulate_cvd(palette, kind)
    lab = _srgb_to_lab(rgb)
    return min(float(np.sqrt(((lab[i] - lab[j]) ** 2).sum())) for i, j in itertools.combinations(range(len(lab)), 2))


def test_okabe_ito_gives_void_black_and_the_seven_colours_first():
    palette = okabe_ito_palette(12, void_index=11)
    assert tuple(palette[11]) == (0, 0, 0)
    assert [tuple(c) for c in palette[:7]] == list(OKABE_ITO)
    assert [tuple(c) for c in okabe_ito_palette(3, void_index=0)] == [(0, 0, 0), OKABE_ITO[0], OKABE_ITO[1]]


def test_okabe_ito_stays_apart_under_simulated_colour_blindness_where_the_camvid_colours_do_not():
    classes = slice(0, 11)  # Void is hidden on screen
    safe = okabe_ito_palette(12, void_index=11)[classes]
    usual = default_palette(CAMVID11)[classes]
    for kind in CVD_MATRICES:
        assert _closest_pair(safe, kind) > 15  # CIELAB ΔE: two classes never look alike
    assert _closest_pair(safe) > 15
    # the CamVid colours have two classes within ΔE 7 for protanopes and deuteranopes
    assert _closest_pair(safe, "deuteranopia") > 2 * _closest_pair(usual, "deuteranopia")
    assert _closest_pair(safe, "protanopia") > 2 * _closest_pair(usual, "protanopia")


def test_many_classes_all_get_different_colours():
    palette = okabe_ito_palette(60, void_index=0)
    assert len({tuple(c) for c in palette}) == 60
    assert (255, 255, 255) not in {tuple(c) for c in palette}  # white is for outlines and the brush


def test_display_palette_default_is_the_projects_own_colours():
    project = default_palette(CAMVID11)
    assert np.array_equal(display_palette("default", project, 11), project)
    assert np.array_equal(display_palette(None, project, 11), project)
    assert np.array_equal(display_palette("no-such-palette", project, 11), project)  # an old/hand-edited setting
    shown = display_palette("okabe-ito", project, 11)
    assert shown.shape == project.shape and not np.array_equal(shown, project)
