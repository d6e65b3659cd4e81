"""Tests for dysmorph_desk.faces.image: every file is generated here with Pillow/numpy."""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import partial
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from dysmorph_desk.errors import ImageRefused, InputRefused
from dysmorph_desk.faces import image as imaging
from dysmorph_desk.faces.image import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_WORKING_LONG_SIDE,
    LoadedImage,
    from_array,
    sha256_bytes,
)

# Most files here are a few pixels wide: what they test (colour, bit depth, orientation) needs no
# face-sized image, so the geometry limits (tested in tests/faces/test_hostile_images.py) are off.
load_image = partial(imaging.load_image, min_short_side=1, max_aspect_ratio=None)

RED = (255, 0, 0)
BLUE = (0, 0, 255)


# ---------------------------------------------------------------------------------- helpers


def quadrant_image(width: int = 60, height: int = 40) -> Image.Image:
    """Blue image with a red top-left quadrant: asymmetric, so rotations are detectable."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, :] = BLUE
    arr[: height // 2, : width // 2] = RED
    return Image.fromarray(arr)


def save(img: Image.Image, path: Path, fmt: str, **kwargs) -> Path:
    img.save(path, format=fmt, **kwargs)
    return path


def assert_valid(result: LoadedImage) -> None:
    assert isinstance(result, LoadedImage)
    assert result.rgb.dtype == np.uint8
    assert result.rgb.ndim == 3 and result.rgb.shape[2] == 3
    assert result.rgb.flags.c_contiguous


def near(pixel, expected, tol: int = 12) -> bool:
    return all(abs(int(p) - int(e)) <= tol for p, e in zip(pixel, expected, strict=True))


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def adobe_rgb_like_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC display profile with Adobe RGB (1998) primaries, gamma 2.2.

    ImageCms can only create sRGB/LAB/XYZ profiles, so this builds the bytes by hand: enough for
    LittleCMS, and far enough from sRGB that a missing conversion is obvious.
    """

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)

    def curv(gamma: float) -> bytes:
        return b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256))

    def desc(text: str) -> bytes:
        ascii_ = text.encode("ascii") + b"\0"
        return (
            b"desc"
            + b"\0" * 4
            + struct.pack(">I", len(ascii_))
            + ascii_
            + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0)
            + b"\0" * 67
        )

    tags = [
        (b"desc", desc("Adobe RGB-like test profile")),
        (b"cprt", b"text" + b"\0" * 4 + b"public domain\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curv(2.2)),
        (b"gTRC", curv(2.2)),
        (b"bTRC", curv(2.2)),
    ]
    table_len = 4 + 12 * len(tags)
    offset = 128 + table_len
    table = struct.pack(">I", len(tags))
    body = b""
    for sig, data in tags:
        while (offset + len(body)) % 4:
            body += b"\0"
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    while len(body) % 4:
        body += b"\0"
    size = 128 + len(table) + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntr"
        + b"RGB "
        + b"XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 4
        + struct.pack(">I", 0)
        + b"\0" * 4
        + b"\0" * 4
        + b"\0" * 8
        + struct.pack(">I", 0)
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\0" * 4
        + b"\0" * 16
        + b"\0" * 28
    )
    assert len(header) == 128
    return header + table + body


def adobe_to_srgb(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Reference conversion for the profile above (linear matrix, clipped, sRGB encoded)."""
    lin = (np.array(rgb, float) / 255.0) ** (563 / 256)
    m = np.array([[1.3982, -0.3982, 0.0], [0.0, 1.0, 0.0], [0.0, -0.0429, 1.0429]])
    s = np.clip(m @ lin, 0.0, 1.0)
    enc = np.where(s <= 0.0031308, 12.92 * s, 1.055 * s ** (1 / 2.4) - 0.055)
    return tuple(round(float(v) * 255) for v in enc)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# ---------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("fmt", "suffix", "kwargs", "tol"),
    [
        ("JPEG", "jpg", {"quality": 95}, 20),
        ("PNG", "png", {}, 0),
        ("WEBP", "webp", {"lossless": True}, 0),
        ("BMP", "bmp", {}, 0),
        ("TIFF", "tif", {}, 0),
        ("GIF", "gif", {}, 0),
    ],
)
def test_formats_decode_to_rgb(tmp_path, fmt, suffix, kwargs, tol):
    path = save(quadrant_image(), tmp_path / f"x.{suffix}", fmt, **kwargs)
    result = load_image(path)
    assert_valid(result)
    assert result.rgb.shape == (40, 60, 3)
    assert result.original_size == (60, 40)
    assert result.scale == 1.0
    assert result.format == fmt
    assert near(result.rgb[2, 2], RED, tol)
    assert near(result.rgb[-3, -3], BLUE, tol)


def test_heic(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this pillow_heif wheel has no HEIF encoder to build a test file")
    pillow_heif.register_heif_opener()
    path = tmp_path / "x.heic"
    try:
        quadrant_image(64, 48).save(path, format="HEIF", quality=95)
    except (OSError, ValueError, RuntimeError) as exc:  # pragma: no cover - wheel-dependent
        pytest.skip(f"HEIF encoding unavailable: {exc}")
    result = load_image(path)
    assert_valid(result)
    assert result.format == "HEIF"
    assert result.rgb.shape == (48, 64, 3)
    assert near(result.rgb[4, 4], RED, 30)
    assert near(result.rgb[-5, -5], BLUE, 30)


def test_bytes_source_and_sha256(tmp_path):
    path = save(quadrant_image(), tmp_path / "x.png", "PNG")
    data = path.read_bytes()
    from_path = load_image(path)
    from_str = load_image(str(path))
    from_bytes = load_image(data)
    expected = hashlib.sha256(data).hexdigest()
    assert from_path.sha256 == from_str.sha256 == from_bytes.sha256 == expected
    assert sha256_bytes(data) == expected
    assert np.array_equal(from_path.rgb, from_bytes.rgb)


def test_defaults():
    assert DEFAULT_MAX_PIXELS == 80_000_000
    assert DEFAULT_WORKING_LONG_SIDE == 1600


# ---------------------------------------------------------------------------------- orientation


def _with_orientation(tmp_path: Path, orientation: int, img: Image.Image | None = None) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(
        img or quadrant_image(),
        tmp_path / f"o{orientation}.jpg",
        "JPEG",
        quality=95,
        exif=exif.tobytes(),
    )


def test_exif_orientation_6_rotates_clockwise(tmp_path):
    result = load_image(_with_orientation(tmp_path, 6))
    assert_valid(result)
    assert result.rgb.shape == (60, 40, 3)
    assert result.original_size == (40, 60)
    # stored top-left (red) ends up top-right after a 90 degree clockwise turn
    assert near(result.rgb[3, -4], RED, 20)
    assert near(result.rgb[3, 3], BLUE, 20)
    assert near(result.rgb[-4, -4], BLUE, 20)
    assert any("orientation" in n for n in result.notes)


def test_exif_orientation_8_rotates_counter_clockwise(tmp_path):
    result = load_image(_with_orientation(tmp_path, 8))
    assert result.rgb.shape == (60, 40, 3)
    assert result.original_size == (40, 60)
    # stored top-left (red) ends up bottom-left after a 90 degree counter-clockwise turn
    assert near(result.rgb[-4, 3], RED, 20)
    assert near(result.rgb[3, 3], BLUE, 20)
    assert near(result.rgb[3, -4], BLUE, 20)


def test_exif_orientation_in_png(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(quadrant_image(), tmp_path / "o.png", "PNG", exif=exif.tobytes())
    result = load_image(path)
    assert result.rgb.shape == (60, 40, 3)
    assert tuple(result.rgb[3, -4]) == RED


def test_notes_do_not_leak_file_name_or_exif(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCameraMaker"
    path = save(quadrant_image(), tmp_path / "Patient_Jane_Doe.jpg", "JPEG", exif=exif.tobytes())
    result = load_image(path)
    joined = " ".join(result.notes)
    assert "Jane" not in joined and "SecretCameraMaker" not in joined


# ---------------------------------------------------------------------------------- large JPEG


@pytest.fixture(scope="module")
def large_jpeg_bytes() -> bytes:
    img = quadrant_image(4000, 3000)
    buf = BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def test_large_jpeg_decoded_with_draft(large_jpeg_bytes):
    result = load_image(large_jpeg_bytes)
    assert_valid(result)
    assert result.original_size == (4000, 3000)
    assert result.scale < 1.0
    assert result.scale == 0.5  # 1/4 would give 1000 < 1600
    assert max(result.rgb.shape[:2]) >= DEFAULT_WORKING_LONG_SIDE
    assert result.rgb.shape == (1500, 2000, 3)
    assert near(result.rgb[10, 10], RED, 20)
    assert near(result.rgb[-10, -10], BLUE, 20)


def test_large_jpeg_smaller_working_side_uses_deeper_scale(large_jpeg_bytes):
    result = load_image(large_jpeg_bytes, working_long_side=500)
    assert result.scale == 0.125
    assert result.rgb.shape == (375, 500, 3)
    assert result.original_size == (4000, 3000)


def test_large_jpeg_full_resolution_when_no_working_side(large_jpeg_bytes):
    result = load_image(large_jpeg_bytes, working_long_side=None)
    assert result.scale == 1.0
    assert result.rgb.shape == (3000, 4000, 3)


def test_draft_with_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big_rotated.jpg"
    quadrant_image(3400, 2000).save(path, format="JPEG", quality=80, exif=exif.tobytes())
    result = load_image(path)
    assert result.original_size == (2000, 3400)
    assert result.scale == 0.5
    assert result.rgb.shape == (1700, 1000, 3)
    assert near(result.rgb[5, -6], RED, 20)
    assert near(result.rgb[5, 5], BLUE, 20)


def test_large_png_is_not_resized(tmp_path):
    path = save(quadrant_image(2400, 1000), tmp_path / "big.png", "PNG")
    result = load_image(path)
    assert result.scale == 1.0
    assert result.rgb.shape == (1000, 2400, 3)


# ---------------------------------------------------------------------------------- colour / ICC


def test_icc_non_srgb_profile_converted(tmp_path):
    profile = adobe_rgb_like_profile()
    ImageCms.ImageCmsProfile(BytesIO(profile))  # sanity: LittleCMS accepts it
    colour = (128, 200, 128)
    path = save(
        Image.new("RGB", (16, 16), colour), tmp_path / "adobe.png", "PNG", icc_profile=profile
    )
    result = load_image(path)
    assert "ICC profile converted to sRGB" in result.notes
    expected = adobe_to_srgb(colour)
    assert abs(expected[0] - colour[0]) > 30  # the test colour really changes
    assert near(result.rgb[8, 8], expected, 6), (result.rgb[8, 8], expected)


def test_icc_srgb_profile_runs_and_notes(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = save(
        Image.new("RGB", (8, 8), (10, 120, 230)), tmp_path / "s.png", "PNG", icc_profile=srgb
    )
    result = load_image(path)
    assert "ICC profile converted to sRGB" in result.notes
    assert near(result.rgb[4, 4], (10, 120, 230), 2)


def test_icc_survives_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 8
    path = save(
        Image.new("RGB", (20, 10), (128, 200, 128)),
        tmp_path / "a.png",
        "PNG",
        icc_profile=adobe_rgb_like_profile(),
        exif=exif.tobytes(),
    )
    result = load_image(path)
    assert result.rgb.shape == (20, 10, 3)
    assert near(result.rgb[5, 5], adobe_to_srgb((128, 200, 128)), 6)


def test_broken_icc_profile_falls_back(tmp_path):
    path = save(
        Image.new("RGB", (8, 8), (10, 120, 230)),
        tmp_path / "b.png",
        "PNG",
        icc_profile=b"this is not an ICC profile at all",
    )
    result = load_image(path)
    assert tuple(result.rgb[4, 4]) == (10, 120, 230)
    assert any("ICC" in n and "unreadable" in n for n in result.notes)


def test_icc_profile_not_matching_mode_falls_back(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = save(Image.new("L", (8, 8), 77), tmp_path / "g.png", "PNG", icc_profile=srgb)
    result = load_image(path)
    assert tuple(result.rgb[4, 4]) == (77, 77, 77)
    assert any("ICC" in n for n in result.notes)


# ---------------------------------------------------------------------------------- modes


def test_grayscale(tmp_path):
    path = save(Image.new("L", (10, 6), 90), tmp_path / "g.png", "PNG")
    result = load_image(path)
    assert_valid(result)
    assert result.rgb.shape == (6, 10, 3)
    assert np.all(result.rgb == 90)


def test_grayscale_alpha_composited(tmp_path):
    img = Image.new("LA", (4, 4), (0, 0))
    path = save(img, tmp_path / "la.png", "PNG")
    assert np.all(load_image(path).rgb == 255)


def test_bilevel(tmp_path):
    arr = np.zeros((8, 8), bool)
    arr[:, 4:] = True
    path = save(Image.fromarray(arr), tmp_path / "b.png", "PNG")
    result = load_image(path)
    assert np.all(result.rgb[:, :4] == 0) and np.all(result.rgb[:, 4:] == 255)


def _gradient16() -> np.ndarray:
    return (np.tile(np.arange(256, dtype=np.uint16), (4, 1)) * 257).astype(np.uint16)


def _assert_gradient_kept(result: LoadedImage) -> None:
    row = result.rgb[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert abs(row[128] - 128) <= 1
    assert len(np.unique(row)) > 200  # Pillow's convert() would give almost all 255
    assert np.all(np.diff(row) >= 0)
    assert "16-bit image scaled to 8-bit" in result.notes


def test_16bit_gradient_png_scaled_not_clipped(tmp_path):
    img = Image.fromarray(_gradient16())
    assert img.mode == "I;16"
    path = save(img, tmp_path / "g16.png", "PNG")
    _assert_gradient_kept(load_image(path))


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16bit_gradient_tiff_scaled_not_clipped(tmp_path, mode):
    grad = _gradient16()
    dtype = ">u2" if mode == "I;16B" else "<u2"  # convert("I;16B") would itself clip
    img = Image.frombytes(mode, grad.shape[::-1], grad.astype(dtype).tobytes())
    path = save(img, tmp_path / "g16.tif", "TIFF")
    assert Image.open(path).mode == mode
    _assert_gradient_kept(load_image(path))


def test_32bit_int_tiff_with_16bit_values(tmp_path):
    img = Image.fromarray(_gradient16().astype(np.int32))
    assert img.mode == "I"
    path = save(img, tmp_path / "i32.tif", "TIFF")
    _assert_gradient_kept(load_image(path))


def test_float_tiff(tmp_path):
    arr = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (4, 1))
    path = save(Image.fromarray(arr), tmp_path / "f.tif", "TIFF")
    row = load_image(path).rgb[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and abs(row[128] - 128) <= 1


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    img.paste(1, (0, 0, 4, 8))
    img.info["transparency"] = 0
    path = save(img, tmp_path / "p.png", "PNG", transparency=0)
    result = load_image(path)
    assert tuple(result.rgb[0, 0]) == RED
    assert tuple(result.rgb[0, 7]) == (255, 255, 255)  # transparent black -> white, not black


def test_palette_gif_with_transparency(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    img.paste(1, (0, 0, 4, 8))
    path = save(img, tmp_path / "p.gif", "GIF", transparency=0)
    result = load_image(path)
    assert tuple(result.rgb[0, 0]) == (0, 255, 0)
    assert tuple(result.rgb[0, 7]) == (255, 255, 255)


def test_rgba_composited_on_white(tmp_path):
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[:, :2] = (255, 0, 0, 128)  # half-transparent red
    arr[:, 2:] = (0, 0, 0, 0)  # fully transparent
    path = save(Image.fromarray(arr, "RGBA"), tmp_path / "a.png", "PNG")
    result = load_image(path)
    assert near(result.rgb[0, 0], (255, 127, 127), 1)
    assert tuple(result.rgb[0, 3]) == (255, 255, 255)
    assert "transparency composited on white" in result.notes


def test_opaque_rgba_has_no_composite_note(tmp_path):
    path = save(Image.new("RGBA", (4, 4), (1, 2, 3, 255)), tmp_path / "o.png", "PNG")
    result = load_image(path)
    assert tuple(result.rgb[0, 0]) == (1, 2, 3)
    assert "transparency composited on white" not in result.notes


def test_cmyk_jpeg_cyan(tmp_path):
    path = save(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), tmp_path / "c.jpg", "JPEG", quality=95)
    result = load_image(path)
    assert_valid(result)
    assert near(result.rgb[8, 8], (0, 255, 255), 10)
    assert "CMYK converted to RGB" in result.notes


def test_cmyk_tiff(tmp_path):
    path = save(Image.new("CMYK", (8, 8), (0, 255, 0, 0)), tmp_path / "c.tif", "TIFF")
    assert tuple(load_image(path).rgb[4, 4]) == (255, 0, 255)


def test_ycbcr_jpeg_and_lab_tiff(tmp_path):
    rgb = Image.new("RGB", (8, 8), (200, 50, 50))
    path = save(rgb.convert("YCbCr"), tmp_path / "y.tif", "TIFF")
    assert near(load_image(path).rgb[4, 4], (200, 50, 50), 3)
    lab = Image.new("LAB", (8, 8), (128, 128, 128))  # L*~50, a=b=0: mid grey
    path = save(lab, tmp_path / "lab.tif", "TIFF")
    px = load_image(path).rgb[4, 4]
    assert near(px, (119, 119, 119), 4)


def test_hsv_mode_via_from_pillow_path(tmp_path):
    # HSV cannot be saved by Pillow; exercise the converter directly.
    notes: list[str] = []
    out = imaging._to_rgb_array(Image.new("HSV", (2, 2), (0, 255, 255)), notes)
    assert tuple(out[0, 0]) == RED


# ---------------------------------------------------------------------------------- frames


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in (RED, (0, 255, 0), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    result = load_image(path)
    assert tuple(result.rgb[5, 5]) == RED
    assert "first frame of 3 used" in result.notes


def test_multipage_tiff_first_page(tmp_path):
    pages = [Image.new("RGB", (10, 10), c) for c in (BLUE, RED)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, format="TIFF", save_all=True, append_images=pages[1:])
    result = load_image(path)
    assert tuple(result.rgb[5, 5]) == BLUE
    assert "first frame of 2 used" in result.notes


def test_animated_webp_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in (RED, BLUE)]
    path = tmp_path / "anim.webp"
    frames[0].save(path, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    result = load_image(path)
    assert tuple(result.rgb[5, 5]) == RED
    assert "first frame of 2 used" in result.notes


# ---------------------------------------------------------------------------------- refusals


def test_pixel_limit_refused_before_decoding(tmp_path):
    path = save(quadrant_image(60, 40), tmp_path / "x.png", "PNG")
    with pytest.raises(ImageRefused, match="limit") as err:
        load_image(path, max_pixels=100)
    msg = str(err.value)
    assert "max_pixels" in msg and "\n" not in msg and str(tmp_path) not in msg
    assert isinstance(err.value, InputRefused)


def test_pixel_limit_message_format(large_jpeg_bytes):
    with pytest.raises(ImageRefused) as err:
        load_image(large_jpeg_bytes, max_pixels=10_000_000)
    assert str(err.value) == (
        "image has 12.0 megapixels, over the limit of 10.0 "
        "(decompression-bomb guard; see the max_pixels setting)"
    )


def test_limit_above_pillow_default_is_honoured_and_global_restored(large_jpeg_bytes):
    before = Image.MAX_IMAGE_PIXELS
    load_image(large_jpeg_bytes, max_pixels=1_000_000_000)
    assert before == Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageRefused):
        load_image(large_jpeg_bytes, max_pixels=5)
    assert before == Image.MAX_IMAGE_PIXELS


def test_gif_frame_bigger_than_limit_refused(tmp_path):
    # Logical screen 10x10 (passes the header check) but the frame claims 3000x3000.
    header = b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0)
    desc = b"," + struct.pack("<HHHHB", 0, 0, 3000, 3000, 0)
    data = header + desc + b"\x02\x02\x44\x01\x00;"
    with pytest.raises(ImageRefused):
        load_image(data, max_pixels=1_000_000)
    assert Image.MAX_IMAGE_PIXELS is not None


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageRefused, match=r"^empty file$"):
        load_image(path)
    with pytest.raises(ImageRefused, match=r"^empty file$"):
        load_image(b"")


def test_missing_file(tmp_path):
    with pytest.raises(ImageRefused, match=r"^file not found$"):
        load_image(tmp_path / "nope.jpg")


def test_directory(tmp_path):
    with pytest.raises(ImageRefused, match="folder"):
        load_image(tmp_path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("Patient notes, definitely not a JPEG\n" * 20)
    with pytest.raises(ImageRefused, match=r"^not an image file \(or an unsupported format\)$"):
        load_image(path)


@pytest.mark.parametrize(
    ("fmt", "cut"),
    [("JPEG", 0.5), ("PNG", 0.5), ("PNG", 0.05), ("JPEG", 0.02), ("WEBP", 0.5), ("TIFF", 0.5)],
)
def test_truncated_files(tmp_path, fmt, cut):
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    buf = BytesIO()
    img.save(buf, format=fmt)
    data = buf.getvalue()
    path = tmp_path / f"t.{fmt.lower()}"
    path.write_bytes(data[: max(1, int(len(data) * cut))])
    with pytest.raises(ImageRefused) as err:
        load_image(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(("truncated or corrupt image", "not an image file"))


def test_zero_size_png():
    ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b""))
        + png_chunk(b"IEND", b"")
    )
    with pytest.raises(ImageRefused):
        load_image(data)


def test_bad_arguments():
    with pytest.raises(ValueError):
        load_image(b"x", max_pixels=0)
    with pytest.raises(ValueError):
        load_image(b"x", working_long_side=0)


# ---------------------------------------------------------------------------------- from_array


def test_from_array_rgb_copies_input():
    arr = np.zeros((5, 7, 3), np.uint8)
    arr[0, 0] = RED
    result = from_array(arr)
    assert_valid(result)
    assert result.format == "array" and result.scale == 1.0
    assert result.original_size == (7, 5)
    assert result.sha256 == hashlib.sha256(arr.tobytes()).hexdigest()
    arr[0, 0] = BLUE
    assert tuple(result.rgb[0, 0]) == RED


def test_from_array_gray_and_rgba():
    gray = np.full((3, 4), 42, np.uint8)
    g = from_array(gray)
    assert g.rgb.shape == (3, 4, 3) and np.all(g.rgb == 42)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (0, 0, 255, 255)
    rgba[1, 1] = (0, 0, 0, 0)
    r = from_array(rgba)
    assert_valid(r)
    assert tuple(r.rgb[0, 0]) == BLUE and tuple(r.rgb[1, 1]) == (255, 255, 255)


def test_from_array_non_contiguous():
    base = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    view = base[:, ::2]
    result = from_array(view)
    assert result.rgb.flags.c_contiguous
    assert np.array_equal(result.rgb, view)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 3), np.uint16),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4, 4, 1), np.uint8),
        np.zeros((4,), np.uint8),
        np.zeros((2, 4, 4, 3), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((4, 4), bool),
        [[1, 2], [3, 4]],
    ],
)
def test_from_array_refuses(bad):
    with pytest.raises(ImageRefused):
        from_array(bad)
