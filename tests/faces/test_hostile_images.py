"""Hostile "photos": every one is refused with ImageRefused, in bounded time, never anything else.

load_image must never hang (FIFOs, devices), never read or decode without bound (huge files,
decompression bombs, absurd shapes) and never let another exception type escape to the caller.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dysmorph_desk.errors import ImageRefused
from dysmorph_desk.faces.image import (
    ACCEPTED_FORMATS,
    MAX_ASPECT_RATIO,
    MAX_PHOTO_BYTES,
    MIN_SHORT_SIDE,
    LoadedImage,
    load_image,
)

TIMEOUT_S = 30.0


def _call(fn) -> tuple[bool, object]:
    """(finished, result or exception) of ``fn`` run in a daemon thread with a timeout."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["result"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIMEOUT_S)
    return not thread.is_alive(), box.get("result")


def refused(source, match: str | None = None, **kwargs) -> str:
    """Assert ``load_image(source)`` raises ImageRefused (one line, no path), quickly."""
    finished, result = _call(lambda: load_image(source, **kwargs))
    assert finished, "load_image blocked"
    assert isinstance(result, ImageRefused), f"expected ImageRefused, got {result!r}"
    msg = str(result)
    assert msg and "\n" not in msg
    if isinstance(source, (str, Path)):
        assert str(Path(source).parent) not in msg
    if match is not None:
        assert match in msg, msg
    return msg


def png_bytes(width: int, height: int, mode: str = "RGB") -> bytes:
    buf = BytesIO()
    Image.new(mode, (width, height), 128).save(buf, format="PNG")
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose pixel data is a few bytes.

    Refusing it with a size/shape reason (not "truncated or corrupt") proves the check runs
    from the header, before any pixel is decoded.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int = 160, height: int = 120) -> bytes:
    rng = np.random.default_rng(0)
    buf = BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
        buf, format="JPEG", quality=90
    )
    return buf.getvalue()


# ---------------------------------------------------------------------------------- geometry


@pytest.mark.parametrize(("width", "height"), [(1, 1), (10, 10), (31, 400), (400, 31)])
def test_too_small_refused(tmp_path, width, height):
    path = tmp_path / "tiny.png"
    path.write_bytes(png_bytes(width, height))
    msg = refused(path, "on the short side")
    assert msg == (
        f"the image is {width}×{height} pixels; at least {MIN_SHORT_SIDE} on the short side "
        "is needed"
    )


def test_smallest_accepted():
    result = load_image(png_bytes(32, 32))
    assert isinstance(result, LoadedImage) and result.rgb.shape == (32, 32, 3)
    assert load_image(png_bytes(32 * 8, 32)).rgb.shape == (32, 256, 3)  # exactly 8:1


@pytest.mark.parametrize(("width", "height"), [(65000, 1000), (1000, 65000), (289, 36)])
def test_elongated_refused_from_the_header(width, height):
    msg = refused(png_header_only(width, height), "more elongated than 8:1")
    assert msg.startswith(f"the image is {width}×{height} pixels (")
    assert MAX_ASPECT_RATIO == 8


def test_real_elongated_png_refused(tmp_path):
    path = tmp_path / "strip.png"
    Image.new("1", (65000, 1000), 1).save(path, format="PNG")  # 8 MB of bits, a small file
    started = time.perf_counter()
    refused(path, "65000×1000 pixels (65:1)")
    assert time.perf_counter() - started < 5  # refused from the header, not decoded


def test_tiny_header_refused_before_decoding():
    refused(png_header_only(10, 10), "at least 32 on the short side")


def test_decompression_bomb_header_refused_before_decoding():
    started = time.perf_counter()
    refused(png_header_only(100_000, 100_000), "megapixels")
    assert time.perf_counter() - started < 5


def test_geometry_limits_are_arguments():
    tiny = png_bytes(10, 10)
    assert load_image(tiny, min_short_side=1).rgb.shape == (10, 10, 3)
    strip = png_bytes(400, 20)
    assert load_image(strip, min_short_side=16, max_aspect_ratio=None).rgb.shape == (20, 400, 3)
    refused(strip, "elongated", min_short_side=16, max_aspect_ratio=19.9)
    for bad in ({"min_short_side": 0}, {"max_aspect_ratio": 0.5}, {"max_bytes": 0}):
        with pytest.raises(ValueError):
            load_image(tiny, **bad)


# ---------------------------------------------------------------------------------- contents


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert refused(path) == "empty file"


@pytest.mark.parametrize("cut", [0.02, 0.3, 0.9])
def test_truncated_jpeg(tmp_path, cut):
    data = jpeg_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * cut)])
    msg = refused(path)
    assert msg.startswith(("truncated or corrupt image", "not an image file"))


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("Patient notes, definitely not a JPEG\n" * 20, encoding="utf-8")
    assert refused(path) == "not an image file (or an unsupported format)"


def test_formats_outside_the_list_are_not_opened(tmp_path):
    # EPS would be rendered by Ghostscript, a PostScript interpreter: never for untrusted files.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 640 480\nshowpage\n"
    assert refused(eps) == "not an image file (or an unsupported format)"
    buf = BytesIO()
    Image.new("RGB", (64, 64)).save(buf, format="PPM")
    assert "PPM" not in ACCEPTED_FORMATS
    assert refused(buf.getvalue()) == "not an image file (or an unsupported format)"


def test_bytes_over_the_size_limit():
    data = png_bytes(64, 64)
    msg = refused(data, max_bytes=100)
    assert msg.startswith("the image data is ") and msg.endswith(
        "photos over 100 bytes are refused"
    )
    assert MAX_PHOTO_BYTES == 100_000_000


def test_file_over_the_size_limit_refused_before_reading(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(64, 64) + b"\0" * 5_000)
    msg = refused(path, max_bytes=1_000)
    assert msg.startswith("the file is ") and msg.endswith("; photos over 1 KB are refused")


# ---------------------------------------------------------------------------------- files


def test_directory(tmp_path):
    refused(tmp_path, "folder")


def test_missing_file(tmp_path):
    assert refused(tmp_path / "gone.jpg") == "file not found"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    try:
        refused(fifo, "named pipe")
    finally:  # had the read blocked, a writer end opened here would release the thread
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_and_a_symlink_to_it(tmp_path):
    refused("/dev/zero", "is a device")
    link = tmp_path / "photo.jpg"
    link.symlink_to("/dev/zero")
    refused(link, "is a device")


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_to_a_photo_is_fine(tmp_path):
    target = tmp_path / "real.png"
    target.write_bytes(png_bytes(40, 40))
    link = tmp_path / "link.png"
    link.symlink_to(target)
    assert load_image(link).rgb.shape == (40, 40, 3)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")
def test_non_utf8_file_name(tmp_path):
    good = tmp_path / os.fsdecode(b"ni\xf1o-\xff.png")
    bad = tmp_path / os.fsdecode(b"ni\xf1o-\xfe.jpg")
    try:
        good.write_bytes(png_bytes(48, 40))
        bad.write_bytes(b"not an image")
    except (OSError, UnicodeError):  # pragma: no cover - a file system that refuses the bytes
        pytest.skip("this file system refuses non-UTF-8 names")
    assert load_image(good).rgb.shape == (40, 48, 3)
    assert load_image(str(good)).sha256 == load_image(good.read_bytes()).sha256
    msg = refused(bad)
    assert "\udcfe" not in msg and "\udcf1" not in msg


def test_not_a_path_or_bytes():
    refused(12345, "not a file name or image data")


# ---------------------------------------------------------------------------------- HEIC


def _heic_bytes(width: int, height: int) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this pillow_heif wheel has no HEIF encoder to build a test file")
    pillow_heif.register_heif_opener()
    buf = BytesIO()
    try:
        Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="HEIF", quality=90)
    except (OSError, ValueError, RuntimeError) as exc:  # pragma: no cover - wheel-dependent
        pytest.skip(f"HEIF encoding unavailable: {exc}")
    return buf.getvalue()


def test_heic_goes_through_the_same_checks(tmp_path):
    ok = _heic_bytes(64, 48)
    path = tmp_path / "phone.heic"
    path.write_bytes(ok)
    result = load_image(path)
    assert result.format == "HEIF" and result.rgb.shape == (48, 64, 3)
    refused(_heic_bytes(16, 16), "at least 32 on the short side")
    refused(ok, max_bytes=len(ok) - 1)
    refused(ok, "megapixels", max_pixels=1_000)
    truncated = tmp_path / "cut.heic"
    truncated.write_bytes(ok[: len(ok) // 2])
    refused(truncated)
