"""Image loading that real clinic files survive.

Photos reach us from phones (HEIC, rotated by EXIF), scanners (16-bit, CMYK, multipage TIFF),
old archives (palette GIFs, BMPs), the clipboard and webcams. Everything downstream (face
detection, alignment, models, reports) wants one thing: an 8-bit sRGB ``(H, W, 3)`` array the
right way up. This module produces exactly that or raises :class:`ImageRefused` with a one-line
reason the caller can show next to the file name.

Design notes:

* The file is read once, through ``utils.inputs.open_regular``: only a regular file (a symlink
  to one is fine) of at most ``max_bytes`` (100 MB) is read, so a named pipe, ``/dev/zero`` or a
  folder is refused before anything is opened and nothing can block or fill memory. Its SHA-256
  comes from those bytes so the report can prove which file was screened, and Pillow decodes from
  memory.
* Only the formats a photo comes in (``ACCEPTED_FORMATS``) are opened: Pillow's other plugins
  (EPS runs Ghostscript, PSD, FITS...) are never given untrusted bytes.
* The pixel limit is checked from the header, before any pixel is decoded (decompression bombs),
  and so are the geometry limits: an image under ``MIN_SHORT_SIDE`` (32) pixels on its short side,
  or longer than ``MAX_ASPECT_RATIO`` (8) times its short side, holds no face to screen.
  Pillow's own bomb check is run with *our* limit while we decode (frames, tiles), then restored.
* Large JPEGs are decoded by libjpeg at 1/2, 1/4 or 1/8 scale (``draft``) when the working size
  we need is still met: a 48 MP phone photo decodes in a fraction of the time and memory.
* 16-bit images are scaled by the type range, never clipped: Pillow's ``convert`` saturates
  16-bit data to white, which would silently turn a scanned photo into a blank page.
* Reading and decoding (with the guards above) live here; turning the decoded image into 8-bit
  sRGB (EXIF orientation, bit depth, CMYK/LAB, ICC profiles, alpha) is ``image_convert``.

Core module: no Qt imports.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from dysmorph_desk.errors import ImageRefused
from dysmorph_desk.faces.image_convert import (
    _DECODE_ERRORS,
    _apply_orientation,
    _composite_on_white,
    _one_line,
    _to_rgb_array,
)
from dysmorph_desk.utils.inputs import MAX_PHOTO_BYTES, human_bytes, open_regular

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_WORKING_LONG_SIDE",
    "MAX_ASPECT_RATIO",
    "MAX_PHOTO_BYTES",
    "MIN_SHORT_SIDE",
    "LoadedImage",
    "from_array",
    "load_image",
    "sha256_bytes",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 80_000_000  # a setting; the caller may pass another
DEFAULT_WORKING_LONG_SIDE = 1600  # long side we need for detection + alignment
MIN_SHORT_SIDE = 32  # pixels on the short side, full resolution: smaller holds no usable face
MAX_ASPECT_RATIO = 8.0  # long side / short side; beyond it the "photo" is a strip, not a portrait

# Pillow format names that photos come in (README "Loading"); Image.open is given only these.
# Multi-picture JPEGs from cameras and phones (MPO) open through the JPEG opener; HEIF comes from
# pillow_heif (registered on first use), AVIF from Pillow itself where it was built with it.
ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF", "HEIF", "AVIF")

_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})

# Image.MAX_IMAGE_PIXELS and the warnings filters are process-wide; they are only changed while
# this lock is held, so concurrent loads cannot leave them in a modified state.
_PILLOW_GLOBALS_LOCK = threading.RLock()
_HEIF_LOCK = threading.Lock()
_heif_registered = False


@dataclass
class LoadedImage:
    """A decoded image, ready for detection: 8-bit sRGB, right way up, plus provenance."""

    rgb: np.ndarray  # uint8, (H, W, 3), C-contiguous, sRGB, orientation applied
    sha256: str  # hex SHA-256 of the file's bytes (of the array's bytes for from_array)
    original_size: tuple[int, int]  # (width, height) at full resolution, after EXIF orientation
    scale: float  # rgb pixels per original pixel (1.0 unless decoded at reduced size)
    format: str  # "JPEG", "PNG", "HEIF", ... or "array"
    notes: list[str] = field(default_factory=list)  # conversions done (no names, no EXIF data)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (identifies the exact file that was screened)."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    working_long_side: int | None = DEFAULT_WORKING_LONG_SIDE,
    max_bytes: int = MAX_PHOTO_BYTES,
    min_short_side: int = MIN_SHORT_SIDE,
    max_aspect_ratio: float | None = MAX_ASPECT_RATIO,
) -> LoadedImage:
    """Decode a file (path or its bytes) into a :class:`LoadedImage`, or raise ImageRefused.

    The file is read once and only if it is a regular file of at most ``max_bytes`` (its SHA-256
    goes into ``LoadedImage.sha256``), its size and shape are checked from the header before any
    pixel is decoded, and the result is an 8-bit sRGB ``(H, W, 3)`` array the right way up,
    whatever the format, bit depth, colour space or EXIF orientation.

    Args:
        source: The photo's path, or the file's bytes (clipboard, drag and drop, a download).
        max_pixels: Upper bound on width * height of the full-resolution image, checked from the
            header before decoding (decompression-bomb guard). A setting; defaults to
            ``DEFAULT_MAX_PIXELS``.
        working_long_side: JPEGs larger than this are decoded at a reduced libjpeg scale (1/2,
            1/4 or 1/8) that keeps the long side >= this value; ``LoadedImage.scale`` says which.
            ``None`` always decodes at full resolution.
        max_bytes: Largest file (or ``bytes``) accepted, checked before reading; 100 MB.
        min_short_side: Fewest pixels on the image's short side (full resolution); 32. Checked
            from the header. ``1`` accepts any size.
        max_aspect_ratio: Largest long side / short side; 8. Checked from the header. ``None``
            accepts any shape.

    Returns:
        The decoded image with its provenance; ``notes`` lists the conversions made.

    Raises:
        ImageRefused: The file is missing, unreadable, not a regular file (a folder, a named
            pipe, a device), over ``max_bytes``, not an image in an accepted format, corrupt, over
            ``max_pixels``, smaller than ``min_short_side`` or more elongated than
            ``max_aspect_ratio``; the message is one line without the path, fit to show next to
            the file name.
        ValueError: ``max_pixels``, ``working_long_side``, ``max_bytes`` or ``min_short_side``
            is not positive, or ``max_aspect_ratio`` is under 1.

    Example:
        >>> from dysmorph_desk.faces.image import load_image
        >>> from dysmorph_desk.utils.resources import sample_portraits
        >>> hopper = next(p for p in sample_portraits() if p.name == "grace_hopper.jpg")
        >>> image = load_image(hopper.read_bytes(), working_long_side=256)
        >>> image.format, image.original_size, image.rgb.shape, image.scale
        ('JPEG', (512, 600), (300, 256, 3), 0.5)
        >>> image.notes
        ['decoded at reduced size (1/2) for speed']
        >>> load_image(b"not a photo")
        Traceback (most recent call last):
        ...
        dysmorph_desk.errors.ImageRefused: not an image file (or an unsupported format)
    """
    if max_pixels <= 0:
        raise ValueError("max_pixels must be positive")
    if working_long_side is not None and working_long_side <= 0:
        raise ValueError("working_long_side must be positive or None")
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    if min_short_side <= 0:
        raise ValueError("min_short_side must be positive")
    if max_aspect_ratio is not None and not max_aspect_ratio >= 1.0:
        raise ValueError("max_aspect_ratio must be at least 1 or None")

    data = _read_source(source, max_bytes)
    if not data:
        raise ImageRefused("empty file")
    digest = sha256_bytes(data)
    _register_heif()

    notes: list[str] = []
    with _PILLOW_GLOBALS_LOCK:
        saved_limit = Image.MAX_IMAGE_PIXELS
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img, stored_size, scale, fmt = _open_and_decode(
                    data,
                    max_pixels,
                    working_long_side,
                    notes,
                    min_short_side=min_short_side,
                    max_aspect_ratio=max_aspect_ratio,
                )
        finally:
            Image.MAX_IMAGE_PIXELS = saved_limit

    try:
        img, orientation = _apply_orientation(img, notes)
        width, height = stored_size
        if orientation in _SWAPPING_ORIENTATIONS:
            width, height = height, width
        rgb = _to_rgb_array(img, notes)
    except MemoryError:
        raise ImageRefused("not enough memory to convert the image") from None
    finally:
        img.close()

    log.debug(
        "decoded %s image: original %dx%d, decoded %dx%d (scale %.4g), %d note(s)",
        fmt,
        width,
        height,
        rgb.shape[1],
        rgb.shape[0],
        scale,
        len(notes),
    )
    return LoadedImage(
        rgb=rgb,
        sha256=digest,
        original_size=(width, height),
        scale=scale,
        format=fmt,
        notes=notes,
    )


def from_array(rgb: np.ndarray) -> LoadedImage:
    """Wrap a clipboard/webcam frame (uint8 HxW, HxWx3 RGB or HxWx4 RGBA) as a LoadedImage.

    The array is copied: webcam drivers reuse their frame buffers, and a screened image must not
    change under us. Channel order must already be RGB (OpenCV's BGR is the caller's job).
    """
    if not isinstance(rgb, np.ndarray):
        raise ImageRefused(f"not an image array (got {type(rgb).__name__})")
    if rgb.dtype != np.uint8:
        raise ImageRefused(f"image array must be uint8, not {rgb.dtype}")
    if rgb.ndim == 3 and rgb.shape[2] not in (3, 4):
        raise ImageRefused(
            f"image array must have 3 (RGB) or 4 (RGBA) channels, not {rgb.shape[2]}"
        )
    if rgb.ndim not in (2, 3):
        raise ImageRefused(f"image array must be HxW, HxWx3 or HxWx4, not shape {rgb.shape}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageRefused("image has zero width or height")

    src = np.ascontiguousarray(rgb)
    digest = sha256_bytes(src.tobytes())
    notes: list[str] = []
    if src.ndim == 2:
        out = np.repeat(src[:, :, None], 3, axis=2)
        notes.append("grayscale expanded to RGB")
    elif src.shape[2] == 4:
        out = _composite_on_white(src[:, :, :3], src[:, :, 3], notes)
    else:
        out = src.copy()
    out = np.ascontiguousarray(out, dtype=np.uint8)
    height, width = out.shape[:2]
    return LoadedImage(
        rgb=out,
        sha256=digest,
        original_size=(width, height),
        scale=1.0,
        format="array",
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# reading and decoding
# --------------------------------------------------------------------------------------------


def _read_source(source: str | Path | bytes, max_bytes: int) -> bytes:
    """The file's bytes, read only from a regular file of at most ``max_bytes``; else refused.

    Folders, named pipes, devices and sockets are refused before anything is opened, and nothing
    past ``max_bytes + 1`` bytes is ever read (``utils.inputs.open_regular``).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = memoryview(source).nbytes
        if size > max_bytes:
            raise ImageRefused(
                f"the image data is {human_bytes(size)}; photos over {human_bytes(max_bytes)} "
                "are refused"
            )
        return bytes(source)
    if not isinstance(source, (str, os.PathLike)):
        raise ImageRefused(f"not a file name or image data (got {type(source).__name__})")
    return open_regular(source, max_bytes, error=ImageRefused, kind="photos")


def _register_heif() -> None:
    """Register pillow_heif's opener once, on first use (import is slow; keep startup fast)."""
    global _heif_registered
    if _heif_registered:
        return
    with _HEIF_LOCK:
        if _heif_registered:
            return
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except Exception:  # a missing or broken HEIF plugin must not break JPEG/PNG
            log.warning("HEIC/HEIF support unavailable (pillow_heif failed to load)", exc_info=True)
        _heif_registered = True


def _open_and_decode(
    data: bytes,
    max_pixels: int,
    working_long_side: int | None,
    notes: list[str],
    *,
    min_short_side: int = MIN_SHORT_SIDE,
    max_aspect_ratio: float | None = MAX_ASPECT_RATIO,
) -> tuple[Image.Image, tuple[int, int], float, str]:
    """Open, check the header size, pick the JPEG draft scale, decode. Caller holds the lock.

    Returns (image, stored full-resolution size, scale, format name).
    """
    # Our own header check replaces Pillow's at open time (so the message names our setting and
    # the caller's limit is honoured even above Pillow's default).
    Image.MAX_IMAGE_PIXELS = None
    try:
        img = Image.open(BytesIO(data), formats=_accepted_formats())
    except Image.UnidentifiedImageError:
        raise ImageRefused("not an image file (or an unsupported format)") from None
    except MemoryError:
        raise ImageRefused("not enough memory to read the image header") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(_bomb_reason(exc, max_pixels)) from None
    except _DECODE_ERRORS as exc:
        raise ImageRefused(f"truncated or corrupt image: {_one_line(exc)}") from None

    try:
        fmt = img.format or "unknown"
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageRefused("image has zero width or height")
        pixels = width * height
        if pixels > max_pixels:
            raise ImageRefused(
                f"image has {_megapixels(pixels)} megapixels, over the limit of "
                f"{_megapixels(max_pixels)} (decompression-bomb guard; see the max_pixels setting)"
            )
        _check_geometry(width, height, min_short_side, max_aspect_ratio)

        n_frames = _frame_count(img)
        if n_frames > 1:
            notes.append(f"first frame of {n_frames} used")

        scale = 1.0
        if (
            working_long_side is not None
            and fmt in _JPEG_FORMATS
            and max(width, height) > working_long_side
        ):
            scale = _draft_jpeg(img, working_long_side)
            if scale < 1.0:
                notes.append(f"decoded at reduced size (1/{round(1 / scale)}) for speed")

        # Frames and tiles are checked by Pillow while loading: give it our limit.
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRefused(_bomb_reason(exc, max_pixels)) from None
        except MemoryError:
            raise ImageRefused("not enough memory to decode the image") from None
        except _DECODE_ERRORS as exc:
            raise ImageRefused(f"truncated or corrupt image: {_one_line(exc)}") from None
        if img.width <= 0 or img.height <= 0:
            raise ImageRefused("image has zero width or height")
        return img, (width, height), scale, fmt
    except BaseException:
        img.close()
        raise


def _accepted_formats() -> tuple[str, ...]:
    """ACCEPTED_FORMATS that this Pillow has an opener for (``formats=`` refuses unknown names)."""
    Image.init()
    return tuple(f for f in ACCEPTED_FORMATS if f in Image.OPEN)


def _check_geometry(
    width: int, height: int, min_short_side: int, max_aspect_ratio: float | None
) -> None:
    """Refuse, from the header size, an image too small or too elongated to hold a face."""
    short, long = min(width, height), max(width, height)
    if short < min_short_side:
        raise ImageRefused(
            f"the image is {width}×{height} pixels; at least {min_short_side} on the short side "
            "is needed"
        )
    if max_aspect_ratio is not None and long > max_aspect_ratio * short:
        raise ImageRefused(
            f"the image is {width}×{height} pixels ({long / short:.3g}:1); photos more elongated "
            f"than {max_aspect_ratio:g}:1 are refused"
        )


def _frame_count(img: Image.Image) -> int:
    """Number of frames/pages (animated GIF/WebP/PNG, multipage TIFF); 1 if unknown or broken."""
    try:
        return int(getattr(img, "n_frames", 1) or 1)
    except _DECODE_ERRORS:
        # Counting frames means scanning the file; a broken later frame must not refuse frame 1.
        return 1


def _draft_jpeg(img: Image.Image, working_long_side: int) -> float:
    """Ask libjpeg for a 1/2, 1/4 or 1/8 decode keeping the long side >= working_long_side.

    Returns the exact sampling scale (1/s): libjpeg's DCT scaling maps original pixel x to
    x / s, the decoded size being ceil(size / s).
    """
    width, height = img.size
    long_side = max(width, height)
    if width >= height:
        target = (working_long_side, -(-height * working_long_side // long_side))
    else:
        target = (-(-width * working_long_side // long_side), working_long_side)
    target = (max(1, target[0]), max(1, target[1]))
    try:
        result = img.draft("RGB", target)
    except _DECODE_ERRORS as exc:
        log.debug("JPEG draft failed, decoding at full size: %s", _one_line(exc))
        return 1.0
    if result is None:
        return 1.0
    _mode, box = result
    scale = float(box[2]) / float(width) if width else 1.0
    # Safety net: never report a scale that does not match what will be decoded.
    if not 0.0 < scale <= 1.0 or abs(img.size[0] - width * scale) >= 1.0:
        scale = img.size[0] / width
    return scale


# --------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------


def _megapixels(pixels: int) -> str:
    """Readable megapixels: '120.0', or '0.0001' for the tiny limits tests use."""
    mp = pixels / 1_000_000
    return f"{mp:.1f}" if mp >= 0.1 else f"{mp:.2g}"


def _bomb_reason(exc: BaseException, max_pixels: int) -> str:
    return (
        f"image (or one of its frames/tiles) is over the limit of {_megapixels(max_pixels)} "
        f"megapixels (decompression-bomb guard; see the max_pixels setting): {_one_line(exc)}"
    )
