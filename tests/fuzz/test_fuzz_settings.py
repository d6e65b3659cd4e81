"""A damaged or hostile settings file, and a clinic logo that is not a usable image.

The settings file is the user's own, but it is still read on every run: garbage, deep nesting or
wrong types fall back to the defaults with a warning (exit 0), never an internal error. A logo the
report cannot use (missing, not an image, a decompression bomb, a named pipe, a device) is left out
of the report with a warning: a clinician can still print it (exit 0), and nothing blocks.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from dysmorph_desk.settings import SETTINGS_VERSION
from tests.fuzz.helpers import CLI


def _settings_file(home: Path, content: bytes | dict) -> None:
    folder = home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = json.dumps({"schema_version": SETTINGS_VERSION, **content}).encode()
    (folder / "settings.json").write_bytes(content)


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def photo(portraits) -> Path:
    return portraits["grace_hopper"]


SETTINGS = [
    ("garbage-bytes", b"\xff\xfe\x00garbage"),
    ("not-an-object", b"[1, 2]"),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000),
    ("nan", b'{"schema_version": 2, "screening": {"threads": NaN}}'),
    (
        "wrong-types",
        {
            "screening": {"threads": "many", "default_models": 5},
            "heatmap": {"opacity": "x"},
            "report": None,
        },
    ),
]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(c, id=i, marks=() if i == "deep-nesting" else pytest.mark.slow)
        for i, c in SETTINGS
    ],
)
def test_damaged_settings_fall_back_to_the_defaults(
    dd: CLI, tmp_path, _isolated_home, photo, content
):
    _settings_file(_isolated_home, content)
    dd.expect(0, "screen", photo, "--json", tmp_path / "r.json", "--cam", "none")


def _logo(tmp_path: Path, kind: str) -> Path:
    logo = tmp_path / "logo.png"
    if kind == "missing":
        return tmp_path / "nowhere.png"
    if kind == "text":
        logo.write_text("not a picture")
    elif kind == "bomb":
        logo.write_bytes(_bomb_png(100_000, 100_000))
    elif kind == "truncated":
        logo.write_bytes(_bomb_png(64, 64)[:30])
    elif kind == "folder":
        logo.mkdir()
    elif kind == "fifo":
        os.mkfifo(logo)
    elif kind == "dev-zero":
        logo.symlink_to("/dev/zero")
    else:
        raise AssertionError(kind)
    return logo


LOGOS = ["missing", "text", "bomb", "truncated", "folder", "fifo", "dev-zero"]
FAST_LOGOS = {"bomb", "fifo"}


@pytest.mark.parametrize(
    "kind",
    [pytest.param(k, id=k, marks=() if k in FAST_LOGOS else pytest.mark.slow) for k in LOGOS],
)
def test_an_unusable_logo_is_left_out_of_the_report(dd: CLI, tmp_path, _isolated_home, photo, kind):
    """Run as a subprocess: a logo that blocks (FIFO) or never ends (a device) must not hang."""
    _settings_file(_isolated_home, {"report": {"logo_path": str(_logo(tmp_path, kind))}})
    r = tmp_path / "r.pdf"
    result = dd.expect_sub(0, "screen", photo, "--report", r, "--cam", "none", timeout=60)
    assert "logo" in result.err, result.err  # a warning says the report was printed without it
    assert r.read_bytes().startswith(b"%PDF-")
