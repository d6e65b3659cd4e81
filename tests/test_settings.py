"""Settings: nested by section, versioned, and migrated from the flat version-1 files."""

from __future__ import annotations

import json
import logging

import pytest

from dysmorph_desk.explain.overlay import DEFAULT_COLORMAP, DEFAULT_OPACITY
from dysmorph_desk.faces.image import DEFAULT_MAX_PIXELS
from dysmorph_desk.settings import SETTINGS_VERSION, Settings

V1_FILE = {  # what version 0.1.0 wrote (flat keys)
    "version": 1,
    "clinic_name": "Klinik Süd",
    "clinic_address": "Hauptstr. 1",
    "logo_path": "/logos/clinic.png",
    "paper": "Letter",
    "prevalence": 0.02,
    "default_models": ["demo-hybrid", "demo-resnet18"],
    "cam_method": "hirescam",
    "colormap": "viridis",
    "opacity": 0.6,
    "device": "cpu",
    "report_folder": "/reports",
    "max_megapixels": 40.0,
    "remember_photo_names": True,
    "operator": "Dr. A",
}


def _write(data) -> None:
    path = Settings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_defaults_come_from_the_modules_that_own_them():
    s = Settings()
    assert s.schema_version == SETTINGS_VERSION == 2
    assert (s.heatmap.colormap, s.heatmap.opacity) == (DEFAULT_COLORMAP, DEFAULT_OPACITY)
    assert s.screening.max_pixels == DEFAULT_MAX_PIXELS


def test_a_version_1_file_is_migrated_without_losing_a_value():
    _write(V1_FILE)
    s = Settings.load()
    assert (s.report.clinic_name, s.report.clinic_address, s.report.logo_path) == (
        "Klinik Süd",
        "Hauptstr. 1",
        "/logos/clinic.png",
    )
    assert (s.report.paper, s.report.prevalence, s.report.folder) == ("Letter", 0.02, "/reports")
    assert (s.heatmap.cam_method, s.heatmap.colormap, s.heatmap.opacity) == (
        "hirescam",
        "viridis",
        0.6,
    )
    assert s.screening.default_models == ("demo-hybrid", "demo-resnet18")
    assert (s.screening.device, s.screening.max_megapixels) == ("cpu", 40.0)
    assert s.screening.max_pixels == 40_000_000
    assert (s.app.operator, s.app.remember_photo_names) == ("Dr. A", True)
    # saving writes the new layout, which loads back equal
    s.save()
    saved = json.loads(Settings.path().read_text(encoding="utf-8"))
    assert saved["schema_version"] == 2 and saved["report"]["folder"] == "/reports"
    assert "clinic_name" not in saved
    assert Settings.load() == s


def test_bad_values_fall_back_to_defaults_with_a_log_line(caplog):
    _write({"schema_version": 2, "report": {"paper": 4, "unknown": 1}, "heatmap": "jet", "app": {}})
    with caplog.at_level(logging.WARNING, logger="dysmorph_desk.settings"):
        s = Settings.load()
    assert s == Settings()
    text = caplog.text
    assert "report.paper has the wrong type" in text and "report.unknown ignored" in text
    assert "section 'heatmap' is not an object" in text


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_an_unreadable_file_gives_the_defaults(content):
    path = Settings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    assert Settings.load() == Settings()


def test_report_options_are_built_in_one_place():
    _write(V1_FILE)
    s = Settings.load()
    opts = s.report_options()
    assert (opts.clinic_name, opts.paper, opts.prevalence) == ("Klinik Süd", "Letter", 0.02)
    assert (opts.colormap, opts.opacity) == ("viridis", 0.6)
    assert str(opts.logo_path) == "/logos/clinic.png"
    over = s.report_options(clinic_name=None, prevalence=0.1, include_photo_name=True, opacity=0.3)
    assert over.clinic_name == "Klinik Süd"  # None means "not overridden"
    assert (over.prevalence, over.include_photo_name, over.opacity) == (0.1, True, 0.3)
    assert Settings().report_options().logo_path is None


def test_a_fifo_in_place_of_the_settings_file_does_not_hang():
    """Read bounded and non-blocking: a named pipe gives the defaults at once, as garbage does."""
    import os

    path = Settings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    try:
        assert Settings.load() == Settings()
    finally:
        path.unlink()
