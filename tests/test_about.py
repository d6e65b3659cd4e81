"""The About box's version line and the third-party licences, from a pip install and a frozen one."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import pytest

from dysmorph_desk import __version__, about
from dysmorph_desk.about import Notice


def test_version_text_names_the_package_python_and_platform():
    lines = about.version_text().splitlines()
    assert lines[0] == f"DysmorphDesk {__version__}"
    assert lines[1].startswith(f"Python {platform.python_version()} ")
    assert lines[2] == platform.platform()


def test_notices_are_the_runtime_dependencies_with_their_installed_versions():
    notices = {n.name.lower().replace("_", "-"): n for n in about.third_party_notices()}
    for name in ("numpy", "onnxruntime", "reportlab", "pyside6-essentials", "platformdirs"):
        assert name in notices, name
        assert notices[name].version == metadata.version(name)
    # recursive: shiboken6 comes with PySide6, cffi with cryptography
    assert "shiboken6" in notices and "cffi" in notices
    # extras are not the runtime: the training and test tools stay out even where installed
    for name in ("torch", "torchvision", "pytest", "scikit-learn", "matplotlib", "dysmorph-desk"):
        assert name not in notices, name


def test_licences_come_from_the_metadata_and_texts_from_the_licence_files():
    notices = {n.name.lower(): n for n in about.third_party_notices()}
    numpy = notices["numpy"]
    assert numpy.licence == metadata.metadata("numpy")["License-Expression"]
    assert "--- LICENSE.txt ---" in numpy.text and "NumPy Developers" in numpy.text
    # onnxruntime keeps its licence in the package folder, not the dist-info
    assert "--- ThirdPartyNotices.txt ---" in notices["onnxruntime"].text
    # a licence given only as a classifier
    assert notices["pydicom"].licence == "MIT License"
    for n in notices.values():
        assert n.licence and n.licence != "unknown", n.name
        assert n.text.strip(), n.name


def test_the_shipped_fonts_and_detector_weights_are_listed():
    notices = {n.name: n for n in about.asset_notices()}
    assert "Bitstream Vera" in notices["DejaVu Sans fonts"].text
    assert "Apache License" in notices["Droid Sans Fallback font"].text
    assert "facenet-pytorch" in notices["MTCNN face-detector weights (facenet-pytorch)"].text
    assert about.NO_TEXT not in {n.text for n in notices.values()}


def test_a_missing_root_distribution_has_no_dependencies():
    assert about.runtime_distributions("no-such-distribution-dd") == []


TRICKY = [
    Notice("alpha", "1.0", "MIT", "Line one\n\n  indented\n" + about.RULE + "\nName: fake\n"),
    Notice("beta gamma", "2", "Apache-2.0 OR BSD-3-Clause", "x: y\n\n\ntrailing spaces   "),
]


def test_the_licence_file_reads_back_exactly():
    text = about.format_notices(TRICKY)
    assert text.startswith(f"Third-party software and data in DysmorphDesk {__version__} (2 ")
    back = about.parse_notices(text)
    assert [(n.name, n.version, n.licence) for n in back] == [
        (n.name, n.version, n.licence) for n in TRICKY
    ]
    assert back[0].text == TRICKY[0].text.rstrip("\n")
    assert back[1].text == TRICKY[1].text


def test_third_party_text_of_a_pip_install_is_every_notice():
    text = about.third_party_text()
    notices = about.third_party_notices()
    assert about.parse_notices(text) == notices


@pytest.fixture
def frozen(tmp_path, monkeypatch):
    """A fake frozen build: sys.frozen set, the executable in tmp_path."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "dysmorph-desk"))
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    return tmp_path


def test_a_frozen_build_reads_the_file_beside_the_executable(frozen):
    (frozen / about.LICENCE_FILE).write_text(about.format_notices(TRICKY), encoding="utf-8")
    assert about.third_party_text() == about.format_notices(TRICKY)
    assert [n.name for n in about.third_party_notices()] == ["alpha", "beta gamma"]
    assert about.version_text().splitlines()[0] == f"DysmorphDesk {__version__} (installed build)"


def test_a_frozen_mac_app_reads_it_from_resources(frozen, monkeypatch):
    macos = frozen / "DysmorphDesk.app" / "Contents" / "MacOS"
    macos.mkdir(parents=True)
    (macos.parent / "Resources").mkdir()
    (macos.parent / "Resources" / about.LICENCE_FILE).write_text(
        about.format_notices(TRICKY[:1]), encoding="utf-8"
    )
    monkeypatch.setattr(sys, "executable", str(macos / "DysmorphDesk"))
    assert [n.name for n in about.third_party_notices()] == ["alpha"]


def test_a_frozen_build_without_the_file_says_so(frozen, caplog):
    assert about.third_party_notices() == []
    assert "missing" in caplog.text
    text = about.third_party_text()
    assert text.startswith(f"{about.LICENCE_FILE} is missing from this installation")
