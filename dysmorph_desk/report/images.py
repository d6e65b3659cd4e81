"""Images on the report: downscaled to their printed size and embedded as JPEG.

Printing at ``ReportOptions.print_dpi`` rather than at camera resolution keeps a typical report well
under 500 KB and its rendering well under a second.
"""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image

from dysmorph_desk.explain.overlay import COLOUR_BAR_LABEL, colour_scale
from dysmorph_desk.report.style import FONT_REGULAR, GRID, SHADE
from dysmorph_desk.report.text import para
from dysmorph_desk.screening.results import ScreeningResult
from dysmorph_desk.utils.inputs import open_regular

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
MAX_LOGO_BYTES = 20_000_000
MAX_LOGO_PIXELS = 25_000_000  # a logo prints 38 x 16 mm
LOGO_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
# What Pillow raises on a malformed file, besides OSError/ValueError (see faces/image_convert.py)
_LOGO_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    MemoryError,
    PILImage.DecompressionBombError,
)


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """Tolerate greyscale, RGBA and float images: the report should print whatever it is given."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.nan_to_num(arr.astype(np.float32)), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def _fit(width_px: int, height_px: int, box_w: float, box_h: float) -> tuple[float, float]:
    scale = min(box_w / width_px, box_h / height_px)
    return width_px * scale, height_px * scale


def _downscale(rgb: np.ndarray, print_w: float, print_h: float, dpi: int) -> np.ndarray:
    """Shrink to the pixel count the printer can use at ``dpi``; never enlarge."""
    h, w = rgb.shape[:2]
    target_w = max(1, round(print_w / 72.0 * dpi))
    target_h = max(1, round(print_h / 72.0 * dpi))
    if target_w >= w and target_h >= h:
        return rgb
    return cv2.resize(rgb, (min(w, target_w), min(h, target_h)), interpolation=cv2.INTER_AREA)


def jpeg_image(rgb: np.ndarray, box_w: float, box_h: float, dpi: int) -> Image:
    """A platypus Image of ``rgb`` fitted in a box, carried as JPEG bytes (DCTDecode in the PDF)."""
    rgb = as_rgb8(rgb)
    w, h = _fit(rgb.shape[1], rgb.shape[0], box_w, box_h)
    small = _downscale(rgb, w, h, dpi)
    buf = io.BytesIO()
    PILImage.fromarray(small, "RGB").save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    buf.seek(0)
    return Image(buf, width=w, height=h)


def photo_with_box(result: ScreeningResult, box_w: float, box_h: float, dpi: int) -> Image | None:
    """The photo, downscaled first (cheap), with the screened face's box drawn on the small copy."""
    if result.photo is None:
        return None
    photo = as_rgb8(result.photo)
    w, h = _fit(photo.shape[1], photo.shape[0], box_w, box_h)
    small = np.ascontiguousarray(_downscale(photo, w, h, dpi)).copy()
    factor = small.shape[1] / photo.shape[1] * float(result.photo_scale or 1.0)
    if result.face is not None and result.face.box is not None:
        x0, y0, x1, y1 = (float(v) * factor for v in result.face.box)
        thickness = max(2, round(small.shape[1] / 150))
        cv2.rectangle(small, (round(x0), round(y0)), (round(x1), round(y1)), (0, 230, 0), thickness)
    return jpeg_image(small, w, h, dpi=10_000)  # already at print resolution


def logo_image(path: Path, dpi: int) -> Image | None:
    """The clinic's logo, flattened onto white and embedded as JPEG; a missing logo is not fatal.

    A logo that moved should not stop a clinician from printing a report, so it is logged and left
    out rather than raised. So is one that is not a regular file (a named pipe would block the
    read, a device never ends), too large, in a format a logo does not come in, or a decompression
    bomb: the file is read through ``open_regular`` and its size checked from the header.
    """
    try:
        data = open_regular(path, MAX_LOGO_BYTES, error=OSError, kind="logos")
        with PILImage.open(io.BytesIO(data), formats=LOGO_FORMATS) as opened:
            if opened.width * opened.height > MAX_LOGO_PIXELS:
                raise ValueError(f"{opened.width}×{opened.height} pixels is too large for a logo")
            opened.load()
            img: PILImage.Image = opened
            if img.mode in ("RGBA", "LA", "P"):
                rgba = img.convert("RGBA")
                img = PILImage.new("RGB", rgba.size, (255, 255, 255))
                img.paste(rgba, mask=rgba.getchannel("A"))
            rgb = np.asarray(img.convert("RGB"))
    except _LOGO_ERRORS as err:
        log.warning("logo %s could not be read (%s); report printed without it", path, err)
        return None
    return jpeg_image(rgb, 38 * mm, 16 * mm, dpi)


class Placeholder(Flowable):
    """A grey box with a short reason, where an image would be but is not available."""

    def __init__(self, width: float, height: float, text: str, style: ParagraphStyle) -> None:
        super().__init__()
        self.width, self.height, self.text, self.style = width, height, text, style

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.setStrokeColor(GRID)
        self.canv.setFillColor(SHADE)
        self.canv.rect(0, 0, self.width, self.height, stroke=1, fill=1)
        paragraph = para(self.text, self.style)
        _, ph = paragraph.wrap(self.width - 6, self.height)
        paragraph.drawOn(self.canv, 3, (self.height - ph) / 2)


class ColourBar(Flowable):
    """The heatmaps' colour scale as a bar, from no influence (left) to the most (right), with its
    label ("less ↔ more influence") centred underneath.

    Drawn as vector stripes rather than an image: sharp at any zoom, and the report's only raster
    images stay the photo, the aligned faces and the heatmaps.
    """

    BAR_H = 3.2 * mm
    LABEL_SIZE = 7
    STEPS = 64

    def __init__(self, width: float, colormap: str, label: str = COLOUR_BAR_LABEL) -> None:
        super().__init__()
        self.width, self.colormap, self.label = width, colormap, label
        self.height = self.BAR_H + self.LABEL_SIZE + 3

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canv = self.canv
        scale = colour_scale(self.colormap, self.STEPS)
        step = self.width / len(scale)
        y = self.height - self.BAR_H
        for i, (r, g, b) in enumerate(scale):
            canv.setFillColorRGB(r / 255.0, g / 255.0, b / 255.0)
            # a hair wider than a step, so no seam shows between stripes
            canv.rect(i * step, y, step + 0.3, self.BAR_H, stroke=0, fill=1)
        canv.setStrokeColor(GRID)
        canv.setLineWidth(0.4)
        canv.rect(0, y, self.width, self.BAR_H, stroke=1, fill=0)
        canv.setFillColor(colors.black)
        canv.setFont(FONT_REGULAR, self.LABEL_SIZE)
        canv.drawCentredString(self.width / 2, 1, self.label)
