"""Heatmap colours: a colour-blind-safe default, jet still selectable, a saved choice kept."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dysmorph_desk.explain.overlay import (
    COLORBLIND_SAFE,
    COLORMAPS,
    COLOUR_BAR_LABEL,
    DEFAULT_COLORMAP,
    colorize,
    colour_scale,
    overlay_heatmap,
)
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.settings import Settings


def test_default_is_colour_blind_safe_everywhere():
    assert DEFAULT_COLORMAP == "viridis" and DEFAULT_COLORMAP in COLORBLIND_SAFE
    assert Settings().heatmap.colormap == DEFAULT_COLORMAP
    assert ReportOptions().colormap == DEFAULT_COLORMAP
    assert Settings().report_options().colormap == DEFAULT_COLORMAP


def test_jet_stays_selectable_and_a_saved_jet_stays(tmp_path):
    assert "jet" in COLORMAPS
    heat = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    assert not np.array_equal(colorize(heat, "jet"), colorize(heat, DEFAULT_COLORMAP))
    Settings.path().parent.mkdir(parents=True, exist_ok=True)
    Settings.path().write_text(json.dumps({"schema_version": 2, "heatmap": {"colormap": "jet"}}))
    loaded = Settings.load()
    assert loaded.heatmap.colormap == "jet" and loaded.report_options().colormap == "jet"
    # and from a version-1 (flat) file
    Settings.path().write_text(json.dumps({"colormap": "jet", "opacity": 0.3}))
    assert Settings.load().heatmap.colormap == "jet"


@pytest.mark.parametrize("name", COLORBLIND_SAFE)
def test_colour_scale_rises_in_lightness(name):
    scale = colour_scale(name, 32)
    assert scale.shape == (32, 3) and scale.dtype == np.uint8
    luma = scale.astype(float) @ [0.299, 0.587, 0.114]  # what a greyscale printer keeps
    assert np.all(np.diff(luma) > -1.0) and luma[-1] - luma[0] > 150


def test_colour_scale_matches_the_maps():
    """The bar shows the very colours the overlay paints: no influence left, the most right."""
    scale = colour_scale("viridis", 256)
    assert np.array_equal(scale[0], colorize(np.zeros((1, 1)), "viridis")[0, 0])
    assert np.array_equal(scale[-1], colorize(np.ones((1, 1)), "viridis")[0, 0])
    face = np.full((4, 4, 3), 128, np.uint8)
    assert overlay_heatmap(face, np.ones((4, 4), np.float32)).shape == face.shape
    assert COLOUR_BAR_LABEL == "less ↔ more influence"
