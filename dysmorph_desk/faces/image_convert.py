"""Pixel-format conversion for decoded photos: EXIF orientation, bit depth, ICC colour, alpha.

``image.load_image`` decodes whatever a clinic hands us; this module turns the decoded Pillow image,
in any mode (16-bit scans, CMYK, palette, LAB, float, with or without alpha and an ICC profile),
into the one thing downstream code accepts: an 8-bit sRGB ``(H, W, 3)`` array the right way up.
It is kept apart from reading and decoding because those guard against hostile files (size
limits, Pillow's process-wide settings), while these steps only convert pixels already in memory.
16-bit data are scaled by the type range, never clipped, and transparency is composited on white.

Core module: no Qt imports.
"""

from __future__ import annotations

import logging
import struct
from io import BytesIO

import numpy as np
from PIL import Image, ImageCms, ImageOps

from dysmorph_desk.errors import ImageRefused

log = logging.getLogger(__name__)

_EXIF_ORIENTATION = 0x0112
_MAX_REASON_CHARS = 200

# Exceptions Pillow (and its plugins) raise on malformed data. Decoding code only: a TypeError or
# IndexError here means a broken file, not a bug of ours. ``image`` decodes with the same list.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    struct.error,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    RuntimeError,
    AssertionError,
)
# ... and what a colour conversion (LAB, an embedded ICC profile) adds to them.
_CMS_ERRORS: tuple[type[BaseException], ...] = (ImageCms.PyCMSError, *_DECODE_ERRORS)

_SRGB_PROFILE: ImageCms.ImageCmsProfile | None = None


def _apply_orientation(img: Image.Image, notes: list[str]) -> tuple[Image.Image, int]:
    """Rotate/flip per EXIF orientation; returns the image and the orientation applied (1 = none).

    An unreadable EXIF block is not a reason to refuse a photo: we keep it as stored and say so.
    """
    try:
        orientation = int(img.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except _DECODE_ERRORS as exc:
        log.debug("EXIF unreadable: %s", _one_line(exc))
        notes.append("EXIF block unreadable; orientation not applied")
        return img, 1
    if orientation not in range(2, 9):
        return img, 1
    try:
        rotated = ImageOps.exif_transpose(img)
    except _DECODE_ERRORS as exc:
        log.debug("EXIF transpose failed: %s", _one_line(exc))
        notes.append("EXIF orientation could not be applied")
        return img, 1
    if rotated is None or rotated is img:
        return img, 1
    img.close()
    notes.append("EXIF orientation applied")
    return rotated, orientation


def _to_rgb_array(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> uint8 (H, W, 3) C-contiguous sRGB array."""
    icc = img.info.get("icc_profile")
    img = _to_8bit_basic_mode(img, notes)  # -> one of RGB, RGBA, L, LA, CMYK
    if icc:
        img = _apply_icc(img, icc, notes)
    if img.mode == "CMYK":
        img = img.convert("RGB")
        notes.append("CMYK converted to RGB")

    if img.mode in ("RGBA", "LA"):
        arr = np.array(img.convert("RGBA"))
        rgb = _composite_on_white(arr[:, :, :3], arr[:, :, 3], notes)
    elif img.mode == "L":
        rgb = np.repeat(np.array(img)[:, :, None], 3, axis=2)
    elif img.mode == "RGB":
        rgb = np.array(img)
    else:  # should not happen; be safe rather than crash on an exotic plugin
        rgb = np.array(img.convert("RGB"))
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageRefused(f"could not convert the image to RGB (got shape {rgb.shape})")
    return rgb


def _to_8bit_basic_mode(img: Image.Image, notes: list[str]) -> Image.Image:
    """Bring exotic modes to 8-bit RGB/RGBA/L/LA/CMYK so ICC and alpha handling stay simple."""
    mode = img.mode
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return img
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_l(img, notes)
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        return img.convert("RGBA" if has_alpha else "RGB")
    if mode == "RGBa":
        return img.convert("RGBA")
    if mode == "La":
        return img.convert("LA")
    if mode == "RGBX":
        return img.convert("RGB")
    if mode == "LAB":
        # Pillow's plain convert("RGB") treats L*a*b* channels as RGB (wrong colours).
        try:
            out = ImageCms.profileToProfile(
                img, ImageCms.createProfile("LAB"), _srgb_profile(), outputMode="RGB"
            )
        except _CMS_ERRORS as exc:
            raise ImageRefused(f"could not convert LAB colours: {_one_line(exc)}") from None
        if out is None:
            raise ImageRefused("could not convert LAB colours")
        notes.append("LAB converted to sRGB")
        return out
    if mode in ("YCbCr", "HSV"):
        return img.convert("RGB")
    try:
        out = img.convert("RGB")
    except _DECODE_ERRORS as exc:
        raise ImageRefused(f"unsupported pixel mode {mode}: {_one_line(exc)}") from None
    notes.append(f"{mode} converted to RGB")
    return out


def _high_depth_to_l(img: Image.Image, notes: list[str]) -> Image.Image:
    """16-bit / 32-bit int / float grayscale -> 8-bit L, scaled by the type range (not clipped)."""
    mode = img.mode
    arr = np.array(img)
    if mode.startswith("I;16"):
        out = _scale_16bit(arr)
        notes.append("16-bit image scaled to 8-bit")
    elif mode == "I":
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo >= 0 and hi <= 0xFFFF:
            # Pillow's "I" mode usually carries 16-bit samples (PNG/TIFF/PGM readers).
            out = _scale_16bit(arr)
            notes.append("16-bit image scaled to 8-bit")
        else:
            shifted = arr.astype(np.float64) - np.iinfo(np.int32).min
            out = np.rint(shifted * (255.0 / 0xFFFFFFFF)).astype(np.uint8)
            notes.append("32-bit image scaled to 8-bit")
    else:  # "F"
        f = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        f_lo, f_hi = (float(f.min()), float(f.max())) if f.size else (0.0, 0.0)
        if f_lo >= 0.0 and f_hi <= 1.0:
            out = np.rint(f * 255.0).astype(np.uint8)
            notes.append("floating-point image (0..1) scaled to 8-bit")
        elif f_lo >= 0.0 and f_hi <= 255.0:
            out = np.rint(f).astype(np.uint8)
            notes.append("floating-point image converted to 8-bit")
        else:
            span = f_hi - f_lo if f_hi > f_lo else 1.0
            out = np.rint((f - f_lo) * (255.0 / span)).astype(np.uint8)
            notes.append("floating-point image stretched to 8-bit (values outside 0..255)")
    return Image.fromarray(np.ascontiguousarray(out, dtype=np.uint8), mode="L")


def _scale_16bit(arr: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 by dividing by 257 (rounded): 65535 -> 255, 32896 -> 128."""
    wide = arr.astype(np.uint32)
    return ((wide + 128) // 257).astype(np.uint8)


def _apply_icc(img: Image.Image, icc: bytes, notes: list[str]) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB; keep the pixels as stored if that fails."""
    try:
        src = ImageCms.ImageCmsProfile(BytesIO(icc))
    except _CMS_ERRORS as exc:
        log.debug("embedded ICC profile unreadable: %s", _one_line(exc))
        notes.append("embedded ICC profile unreadable; colours used as stored")
        return img

    alpha = None
    base = img
    if img.mode in ("RGBA", "LA"):
        alpha = img.getchannel("A")
        base = img.convert("RGB" if img.mode == "RGBA" else "L")
    try:
        out = ImageCms.profileToProfile(base, src, _srgb_profile(), outputMode="RGB")
    except _CMS_ERRORS as exc:
        log.debug("ICC conversion failed (%s image): %s", base.mode, _one_line(exc))
        notes.append("embedded ICC profile does not fit the image; colours used as stored")
        return img
    if out is None:  # only with inPlace=True; keep type checkers and future Pillow honest
        return img
    if alpha is not None:
        out.putalpha(alpha)
    notes.append("ICC profile converted to sRGB")
    return out


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    """The built-in sRGB profile (created once)."""
    global _SRGB_PROFILE
    if _SRGB_PROFILE is None:
        _SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB_PROFILE


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray, notes: list[str]) -> np.ndarray:
    """Blend over white: transparent areas must not turn black and look like dark skin/hair."""
    if alpha.size == 0 or int(alpha.min()) == 255:
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    a = alpha.astype(np.uint32)[:, :, None]
    blended = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    notes.append("transparency composited on white")
    return np.ascontiguousarray(blended, dtype=np.uint8)


def _one_line(exc: BaseException) -> str:
    """First line of an exception message, bounded, for a user-facing reason."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if len(first) > _MAX_REASON_CHARS:
        first = first[: _MAX_REASON_CHARS - 3] + "..."
    return first
