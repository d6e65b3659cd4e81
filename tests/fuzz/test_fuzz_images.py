"""``screen`` on hostile and unusual photos: every one gets its documented status, never 5.

3 for anything that is not a usable photo (not a regular file, empty, too small, too elongated,
undecodable, a decompression bomb, no face) with neither output written; 0 for unusual but valid
photos (other formats, CMYK, 16-bit, alpha, a non-UTF-8 file name). FIFOs run as a subprocess with
a timeout, so a regression that blocks fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.fuzz.helpers import (
    CLI,
    assert_no_photo_results,
    check,
    first_photo,
    fuzz_settings,
    photo_outputs,
    strict_json,
)

Builder = Callable[[Path, dict[str, Path]], Path]


# --- generators -------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` RGB pixels, with a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _save(img: Image.Image, path: Path, **kwargs: Any) -> Path:
    img.save(path, **kwargs)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _grace(p: dict[str, Path]) -> Image.Image:
    return Image.open(p["grace_hopper"]).convert("RGB")


def _cut(source: str, fraction: float | int) -> Builder:
    """The first bytes of a real photo: a fraction of it, n bytes, or (n < 0) all but the last -n."""

    def build(tmp: Path, p: dict[str, Path]) -> Path:
        data = p[source].read_bytes()
        if isinstance(fraction, float):
            n = int(len(data) * fraction)
        else:
            n = fraction if fraction >= 0 else len(data) + fraction
        return _write(tmp / f"cut{p[source].suffix}", data[:n])

    return build


def _sixteen_bit_rgb(tmp: Path, p: dict[str, Path]) -> Path:
    import cv2

    bgr = np.asarray(_grace(p), dtype=np.uint16)[:, :, ::-1] * 257
    path = tmp / "rgb16.png"
    assert cv2.imwrite(str(path), np.ascontiguousarray(bgr))
    assert path.read_bytes()[24:26] == b"\x10\x02"  # IHDR: bit depth 16, colour type RGB
    return path


def _rgba(tmp: Path, p: dict[str, Path]) -> Path:
    img = _grace(p).convert("RGBA")
    alpha = Image.new("L", img.size, 255)
    alpha.paste(0, (0, 0, 40, 40))  # a transparent corner: composited on white
    img.putalpha(alpha)
    return _save(img, tmp / "rgba.png")


def _one_bit_strip(tmp: Path, p: dict[str, Path]) -> Path:
    return _save(Image.new("1", (65000, 1000), 1), tmp / "strip.png", optimize=False)


def _text_file(tmp: Path, p: dict[str, Path]) -> Path:
    return _write(tmp / "notes.png", b"this is not a picture\n" * 50)


def _random_bytes(tmp: Path, p: dict[str, Path]) -> Path:
    return _write(tmp / "noise.jpg", random.Random(7).randbytes(50_000))


def _symlink(target: str) -> Builder:
    def build(tmp: Path, p: dict[str, Path]) -> Path:
        link = tmp / "link.jpg"
        link.symlink_to(target)
        return link

    return build


def _folder(tmp: Path, p: dict[str, Path]) -> Path:
    folder = tmp / "folder.jpg"
    folder.mkdir()
    return folder


def _blank(w: int, h: int) -> Builder:
    return lambda tmp, p: _save(Image.new("RGB", (w, h), (120, 90, 60)), tmp / f"{w}x{h}.png")


def _encoded(fmt: str, cut: float | None = None, **kwargs: object) -> Builder:
    """Grace Hopper in ``fmt`` (skipped where this Pillow cannot write it), or its first bytes."""

    def build(tmp: Path, p: dict[str, Path]) -> Path:
        buf = BytesIO()
        try:
            if fmt == "HEIF":
                import pillow_heif

                pillow_heif.register_heif_opener()
            _grace(p).save(buf, fmt, **kwargs)
        except (KeyError, OSError, ImportError, ValueError) as exc:
            pytest.skip(f"this Pillow cannot write {fmt}: {exc}")
        data = buf.getvalue()
        return _write(tmp / f"photo.{fmt.lower()}", data[: int(len(data) * cut)] if cut else data)

    return build


def _float_tiff(fill: float | None) -> Builder:
    """A 32-bit float greyscale TIFF, with a band of NaN/inf or (fill) nothing but ``fill``."""

    def build(tmp: Path, p: dict[str, Path]) -> Path:
        arr = np.asarray(_grace(p).convert("L"), np.float32) / 255.0
        if fill is None:
            arr[:40], arr[40:50] = np.nan, np.inf
        else:
            arr[:] = fill
        return _save(Image.fromarray(arr, "F"), tmp / "float.tiff")

    return build


def _exif(payload: bytes) -> Builder:
    return lambda tmp, p: _save(_grace(p), tmp / "exif.jpg", exif=payload)


def _orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def _tiff_header(width: int, height: int) -> bytes:
    """A little-endian TIFF whose first IFD claims ``width`` x ``height`` and holds nothing."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8)]
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries)
    return b"II*\x00\x08\x00\x00\x00" + ifd + b"\x00\x00\x00\x00"


# (id, builder, expected status); every case gets --json and --report, written only on 0.
REFUSED: list[tuple[str, Builder, int]] = [
    ("zero-byte", lambda tmp, p: _write(tmp / "empty.jpg", b""), 3),
    ("1x1", _blank(1, 1), 3),
    ("10x10", _blank(10, 10), 3),
    ("31x500", _blank(31, 500), 3),
    ("65000x1000-1bit", _one_bit_strip, 3),
    ("random-bytes.jpg", _random_bytes, 3),
    ("text.png", _text_file, 3),
    ("bomb-header", lambda tmp, p: _write(tmp / "bomb.png", _bomb_png(100_000, 100_000)), 3),
    ("bomb-header-just-over", lambda tmp, p: _write(tmp / "bomb.png", _bomb_png(9000, 9000)), 3),
    ("jpeg-cut-2-bytes", _cut("grace_hopper", 2), 3),
    ("jpeg-cut-200-bytes", _cut("grace_hopper", 200), 3),
    ("jpeg-cut-10pc", _cut("grace_hopper", 0.1), 3),
    ("jpeg-cut-50pc", _cut("grace_hopper", 0.5), 3),
    ("jpeg-cut-90pc", _cut("grace_hopper", 0.9), 3),
    # Pillow refuses a JPEG without its 2-byte EOI marker ("truncated"), unlike libjpeg's tools
    ("jpeg-without-eoi", _cut("grace_hopper", -2), 3),
    ("png-cut-100-bytes", _cut("astronaut", 100), 3),
    ("png-cut-50pc", _cut("astronaut", 0.5), 3),
    ("png-cut-99pc", _cut("astronaut", 0.99), 3),
    ("blank-no-face", _blank(400, 400), 3),
    ("folder", _folder, 3),
    ("dev-zero", lambda tmp, p: Path("/dev/zero"), 3),
    ("symlink-to-dev-zero", _symlink("/dev/zero"), 3),
    ("dangling-symlink", _symlink("/nonexistent/photo.jpg"), 3),
    ("missing", lambda tmp, p: tmp / "missing.jpg", 3),
    (
        "noise-no-face",
        lambda tmp, p: _save(
            Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 512), np.uint8)),
            tmp / "noise.png",
        ),
        3,
    ),
    ("float-tiff-all-nan", _float_tiff(float("nan")), 3),
    ("heic-cut-50pc", _encoded("HEIF", 0.5), 3),
    ("heic-cut-200-bytes", _encoded("HEIF", 0.01), 3),
    ("avif-cut-50pc", _encoded("AVIF", 0.5), 3),
    ("webp-cut-50pc", _encoded("WEBP", 0.5), 3),
    ("gif-cut-50pc", _encoded("GIF", 0.5), 3),
    ("tiff-cut-50pc", _encoded("TIFF", 0.5), 3),
    ("tiff-header-huge", lambda tmp, p: _write(tmp / "huge.tiff", _tiff_header(10**6, 10**6)), 3),
    (
        "gif-canvas-huge",
        lambda tmp, p: _write(
            tmp / "huge.gif", b"GIF89a" + struct.pack("<HH", 60000, 60000) + b"\x00\x00\x00;"
        ),
        3,
    ),
    ("psd-named-jpg", lambda tmp, p: _write(tmp / "psd.jpg", b"8BPS\x00\x01" + b"\x00" * 100), 3),
    (
        "eps-named-jpg",
        lambda tmp, p: _write(
            tmp / "eps.jpg", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n"
        ),
        3,
    ),
    (
        "pdf-named-jpg",
        lambda tmp, p: _write(tmp / "doc.jpg", b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"),
        3,
    ),
    (
        "svg-named-png",
        lambda tmp, p: _write(
            tmp / "svg.png", b"<svg xmlns='http://www.w3.org/2000/svg' width='100' height='100'/>"
        ),
        3,
    ),
    ("ico", _encoded("ICO"), 3),
    ("jpeg2000", _encoded("JPEG2000"), 3),
]
FAST_REFUSED = {
    "zero-byte",
    "1x1",
    "65000x1000-1bit",
    "random-bytes.jpg",
    "text.png",
    "bomb-header",
    "jpeg-cut-50pc",
    "folder",
    "dev-zero",
    "dangling-symlink",
}

# Unusual but valid photos of a real face: screened (0).
SCREENED: list[tuple[str, Builder, int]] = [
    ("rgba.png", _rgba, 0),
    ("gif", lambda tmp, p: _save(_grace(p), tmp / "g.gif"), 0),
    ("tiff", lambda tmp, p: _save(_grace(p), tmp / "g.tiff"), 0),
    ("webp", lambda tmp, p: _save(_grace(p), tmp / "g.webp", quality=90), 0),
    ("cmyk.jpg", lambda tmp, p: _save(_grace(p).convert("CMYK"), tmp / "cmyk.jpg"), 0),
    ("cmyk.tiff", lambda tmp, p: _save(_grace(p).convert("CMYK"), tmp / "cmyk.tiff"), 0),
    (
        "gray16.png",
        lambda tmp, p: _save(
            Image.fromarray(np.asarray(_grace(p).convert("L"), np.uint16) * 257),
            tmp / "g16.png",
        ),
        0,
    ),
    ("rgb16.png", _sixteen_bit_rgb, 0),
    ("png-without-iend", _cut("astronaut", -12), 0),
    ("heic", _encoded("HEIF"), 0),
    ("avif", _encoded("AVIF"), 0),
    ("bmp", _encoded("BMP"), 0),
    ("mpo", _encoded("MPO", save_all=True, append_images=[Image.new("RGB", (64, 64))]), 0),
    (
        "animated-gif",
        lambda tmp, p: _save(
            _grace(p), tmp / "a.gif", save_all=True, append_images=[_grace(p).rotate(90)] * 3
        ),
        0,
    ),
    (
        "multipage-tiff",
        lambda tmp, p: _save(
            _grace(p), tmp / "m.tiff", save_all=True, append_images=[_grace(p).convert("L")] * 2
        ),
        0,
    ),
    (
        "tiff-jpeg-compressed",
        lambda tmp, p: _save(_grace(p), tmp / "j.tiff", compression="jpeg"),
        0,
    ),
    ("la.png", lambda tmp, p: _save(_grace(p).convert("LA"), tmp / "la.png"), 0),
    (
        "palette-transparent.png",
        lambda tmp, p: _save(_grace(p).convert("P"), tmp / "p.png", transparency=0),
        0,
    ),
    ("1-bit.png", lambda tmp, p: _save(_grace(p).convert("1"), tmp / "1.png"), 0),
    ("lab.tiff", lambda tmp, p: _save(_grace(p).convert("LAB"), tmp / "lab.tiff"), 0),
    ("float-tiff-nan-band", _float_tiff(None), 0),
    (
        "icc-garbage.jpg",
        lambda tmp, p: _save(_grace(p), tmp / "icc.jpg", icc_profile=b"garbage" * 20),
        0,
    ),
    (
        "icc-zeros.png",
        lambda tmp, p: _save(_grace(p), tmp / "icc.png", icc_profile=b"\x00" * 200),
        0,
    ),
    ("exif-garbage", _exif(b"Exif\x00\x00" + random.Random(3).randbytes(300)), 0),
    ("exif-orientation-99", _exif(_orientation(99)), 0),
    # orientation 6 rotates the upright stored pixels a quarter turn: the face is then sideways
    ("exif-orientation-6", _exif(_orientation(6)), 3),
]
FAST_SCREENED = {"rgba.png", "cmyk.jpg", "rgb16.png"}


# The refusal each case must give (a substring of "photo 1/1: refused: <reason>").
REASONS = {
    "zero-byte": "empty file",
    "1x1": "at least 32 on the short side",
    "10x10": "at least 32 on the short side",
    "31x500": "at least 32 on the short side",
    "65000x1000-1bit": "more elongated than 8:1",
    "random-bytes.jpg": "not an image file",
    "text.png": "not an image file",
    "bomb-header": "decompression-bomb guard",
    "bomb-header-just-over": "decompression-bomb guard",
    "jpeg-cut-50pc": "truncated",
    "png-cut-50pc": "truncated",
    "blank-no-face": "no face",
    "folder": "folder",
    "dev-zero": "device",
    "symlink-to-dev-zero": "device",
    "dangling-symlink": "not found",
    "missing": "not found",
    "psd-named-jpg": "not an image file",
    "eps-named-jpg": "not an image file",
    "pdf-named-jpg": "not an image file",
    "exif-orientation-6": "no face",
}


def _marked(cases: list[tuple[str, Builder, int]], fast: set[str]) -> list[object]:
    return [
        pytest.param(b, e, REASONS.get(i), id=i, marks=() if i in fast else pytest.mark.slow)
        for i, b, e in cases
    ]


# --- one photo ----------------------------------------------------------------------------------


def _screen_one(
    dd: CLI, tmp_path: Path, photo: Path, expected: int, reason: str | None = None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    j, r = out / "r.json", out / "r.pdf"
    result = dd.expect(expected, "screen", photo, "--json", j, "--report", r, "--cam", "none")
    if expected == 0:
        data = strict_json(j.read_bytes())
        assert first_photo(data)["results"], data
        assert r.read_bytes().startswith(b"%PDF-")
    else:
        assert not r.exists(), "a refused photo has a report"
        assert_no_photo_results(j)
        assert str(tmp_path) not in j.read_text() if j.exists() else True
        assert "photo 1/1: refused:" in result.err
        if reason is not None:
            assert reason in result.err, result.err
        assert str(tmp_path) not in result.err, "the photo's path is shown without being asked"


@pytest.mark.parametrize(("build", "expected", "reason"), _marked(REFUSED, FAST_REFUSED))
def test_refused_photos(dd, tmp_path, portraits, build, expected, reason):
    _screen_one(dd, tmp_path, build(tmp_path, portraits), expected, reason)


@pytest.mark.parametrize(("build", "expected", "reason"), _marked(SCREENED, FAST_SCREENED))
def test_unusual_but_valid_photos_are_screened(dd, tmp_path, portraits, build, expected, reason):
    _screen_one(dd, tmp_path, build(tmp_path, portraits), expected, reason)


# --- what cannot run in-process safely: FIFOs -----------------------------------------------------


def test_fifo_is_refused_without_blocking(dd, tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    out.mkdir()
    result = dd.expect_sub(3, "screen", fifo, "--json", out / "r.json", "--cam", "none")
    assert "named pipe" in result.err
    assert_no_photo_results(out / "r.json")


def _good_fifo_tiny_good(tmp_path: Path, portraits: dict[str, Path]) -> list[Path]:
    """[good1.jpg, a FIFO, an 8x8 photo, good2.png] in ``tmp_path / "in"``."""
    photos = tmp_path / "in"
    photos.mkdir()
    good1 = photos / "good1.jpg"
    good1.write_bytes(portraits["grace_hopper"].read_bytes())
    fifo = photos / "fifo.jpg"
    os.mkfifo(fifo)
    tiny = _blank(8, 8)(photos, portraits)
    good2 = _save(Image.open(portraits["astronaut"]).convert("RGB"), photos / "good2.png")
    return [good1, fifo, tiny, good2]


@pytest.mark.slow
def test_batch_of_good_and_refused_photos(dd, tmp_path, portraits):
    """[good, FIFO, tiny, good] with --out-dir: 3; both good photos have JSON+PDF, the others none."""
    photos = _good_fifo_tiny_good(tmp_path, portraits)
    out = tmp_path / "out"
    result = dd.expect_sub(3, "screen", *photos, "--out-dir", out, "--cam", "none")
    assert "screened 2 of 4 photo(s); 2 refused" in result.out, result.out
    assert photo_outputs(out) == ["good1.json", "good1.pdf", "good2.json", "good2.pdf"]
    for name in ("good1.json", "good2.json"):
        assert strict_json((out / name).read_bytes())


# --- non-UTF-8 file names -------------------------------------------------------------------------

RAW_NAME = b"zqxname-\xff\xfe\xe9.jpg"  # Latin-1 bytes: not UTF-8
SENTINEL = "zqxname-"  # the readable part of the name: in outputs only when asked for


def _non_utf8_photo(tmp_path: Path, portraits: dict[str, Path]) -> Path:
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + RAW_NAME))
    path.write_bytes(portraits["grace_hopper"].read_bytes())
    return path


@pytest.mark.parametrize("include_name", [False, True], ids=["name-hidden", "name-shown"])
def test_non_utf8_file_name_in_process(dd, tmp_path, portraits, include_name):
    photo = _non_utf8_photo(tmp_path, portraits)
    extra = ["--include-photo-name"] if include_name else []
    j = tmp_path / "r.json"
    result = dd.expect(0, "screen", photo, "--json", j, "--cam", "none", *extra)
    text = j.read_text(encoding="utf-8")
    strict_json(text)
    if include_name:
        assert SENTINEL in text and SENTINEL in result.err
    else:
        assert SENTINEL not in text + result.out + result.err


@pytest.mark.slow
@pytest.mark.parametrize("include_name", [False, True], ids=["name-hidden", "name-shown"])
def test_non_utf8_file_name_subprocess(dd, tmp_path, portraits, include_name):
    photo = _non_utf8_photo(tmp_path, portraits)
    extra = ["--include-photo-name"] if include_name else []
    out = tmp_path / "out"
    result = dd.expect_sub(
        0, "screen", os.fsencode(photo), "--out-dir", out, "--cam", "none", *extra
    )
    names = photo_outputs(out)
    assert len(names) == 2 and all(n.isprintable() and n.isascii() for n in names), names
    texts = [(out / n).read_text(encoding="utf-8") for n in names if n.endswith(".json")]
    for text in texts:
        strict_json(text)
    assert any(SENTINEL in t for t in texts) == include_name
    assert (SENTINEL in result.out + result.err) == include_name


# --- random mutations of a real JPEG and PNG -------------------------------------------------------


@pytest.fixture(scope="module")
def small_photos(portraits) -> dict[str, bytes]:
    img = Image.open(portraits["grace_hopper"]).convert("RGB")
    img.thumbnail((256, 256))
    out = {}
    for fmt, kwargs in (("JPEG", {"quality": 85}), ("PNG", {})):
        buf = BytesIO()
        img.save(buf, fmt, **kwargs)
        out[fmt.lower()] = buf.getvalue()
    return out


# (where as a fraction of the file, byte value, kind); never at offset 0-1 (the magic number:
# a file that is not recognised at all is covered above), so the decoders see the damage
_mutation = st.lists(
    st.tuples(st.floats(0.002, 1.0, allow_nan=False), st.integers(0, 255), st.sampled_from("sxdi")),
    min_size=1,
    max_size=8,
)


def _mutate(data: bytes, edits: list[tuple[float, int, str]]) -> bytes:
    buf = bytearray(data)
    for where, value, kind in edits:
        i = max(2, min(int(where * len(buf)), len(buf) - 1))
        if kind == "s":  # set a byte
            buf[i] = value
        elif kind == "x":  # flip bits
            buf[i] ^= value or 1
        elif kind == "d":  # delete a run
            del buf[i : i + value]
        else:  # insert a run
            buf[i:i] = bytes([value]) * (value % 17 + 1)
        if len(buf) < 3:
            break
    return bytes(buf)


def _fuzz_one(dd: CLI, folder: Path, data: bytes, name: str) -> int:
    photo = folder / name
    photo.write_bytes(data)
    j, r = folder / f"{name}.json", folder / f"{name}.pdf"
    outcome = dd.run("screen", photo, "--json", j, "--report", r, "--cam", "none")
    # A mutated photo may still decode and hold a face (0) or not (3): never anything else.
    expected = 0 if outcome.code == 0 else 3
    check(outcome, expected)
    if expected == 0:
        strict_json(j.read_bytes())
        assert r.read_bytes().startswith(b"%PDF-")
    else:
        assert_no_photo_results(j)
        assert not r.exists()
    return outcome.code


@pytest.mark.parametrize(
    ("fmt", "max_examples"),
    [
        pytest.param("jpeg", 6, id="jpeg-fast"),
        pytest.param("png", 4, id="png-fast"),
        pytest.param("jpeg", 120, id="jpeg-slow", marks=pytest.mark.slow),
        pytest.param("png", 50, id="png-slow", marks=pytest.mark.slow),
    ],
)
def test_random_mutations_screen_or_are_refused(dd, tmp_path, small_photos, fmt, max_examples):
    codes: list[int] = []

    @fuzz_settings(max_examples)
    @given(edits=_mutation)
    def fuzz(edits: list[tuple[float, int, str]]) -> None:
        name = f"m{len(codes)}.{fmt}"
        codes.append(_fuzz_one(dd, tmp_path, _mutate(small_photos[fmt], edits), name))

    fuzz()
    if fmt == "jpeg" and max_examples >= 20:  # the damage reached both the decoder and the model
        assert set(codes) == {0, 3}, codes


@pytest.mark.slow
def test_visit_with_refused_photos(dd, tmp_path, portraits):
    """--visit of [good, FIFO, tiny, good]: 3; one document with 2 photos and 2 refusals, a report,
    and a FHIR bundle; the refusals are listed by position only."""
    photos = _good_fifo_tiny_good(tmp_path, portraits)
    out = tmp_path / "out"
    out.mkdir()
    j, r, f = out / "visit.json", out / "visit.pdf", out / "visit.fhir.json"
    dd.expect_sub(
        3,
        "screen",
        *photos,
        "--visit",
        *("--json", j, "--report", r, "--fhir", f, "--cam", "none"),
    )
    doc = strict_json(j.read_bytes())
    assert isinstance(doc, dict)
    assert len(doc["photos"]) == 2 and [x["photo"] for x in doc["refused"]] == [2, 3]
    assert doc["visit"] is not None
    assert r.read_bytes().startswith(b"%PDF-") and strict_json(f.read_bytes())
    assert "fifo" not in j.read_text() and "8x8" not in j.read_text()
