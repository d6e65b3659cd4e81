"""The PDF screening report: one printable page (two with many models) per screened photo.

The report is what leaves the machine and ends up in a patient's file, so it is conservative by
design: the disclaimer and any "demonstration model" warning sit at the top where nobody can miss
them, every page carries the software version and the SHA-256 of the photo and of each model
bundle (so a printout can be traced back to exactly what produced it), and nothing identifying
is printed that the user did not ask for: the photo's file name only with
``include_photo_name``, never EXIF, and the PDF metadata names neither the file nor the patient.

Patient identifiers and notes may be written in any script, so every text run goes through
:func:`_markup`, which falls back from DejaVu Sans to a CJK font glyph by glyph (reportlab has no
font fallback of its own). Images are downscaled to their printed size and embedded as JPEG, which
keeps a typical report well under 500 KB and its rendering well under a second.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import cv2
import numpy as np
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from dysmorph_desk.bundles.cards import predictive_values
from dysmorph_desk.errors import UsageError
from dysmorph_desk.explain.overlay import COLORMAPS, overlay_heatmap
from dysmorph_desk.screening.results import ModelResult, ScreeningResult
from dysmorph_desk.utils.resources import as_path, font_file

log = logging.getLogger(__name__)

REPORT_TITLE = "Facial screening report"
APP_NAME = "DysmorphDesk"
PAPERS: dict[str, tuple[float, float]] = {"A4": A4, "LETTER": LETTER}

# Registered font names. The files are package data (resources/fonts/, see LICENSES.md there).
FONT_REGULAR = "DDSans"
FONT_BOLD = "DDSans-Bold"
FONT_CJK = "DDCJK"
_FONT_FILES = {
    FONT_REGULAR: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
    FONT_CJK: "DroidSansFallbackFull.ttf",
}

JPEG_QUALITY = 85
MARGIN = 14 * mm
MODELS_PER_TABLE = 3  # model columns side by side; more models continue in a further table

RED = colors.HexColor("#B00020")
ORANGE = colors.HexColor("#B35900")
GRID = colors.HexColor("#9E9E9E")
SHADE = colors.HexColor("#EEEEEE")
DISCLAIMER_BG = colors.HexColor("#FFF4D6")


@dataclass
class ReportSettings:
    """How a report looks; the clinic's choices, persisted by the GUI and passed by the CLI."""

    clinic_name: str = ""
    clinic_address: str = ""
    logo_path: Path | None = None
    paper: str = "A4"  # or "Letter"
    prevalence: float = 0.01  # for PPV/NPV; stated on the report
    include_photo_name: bool = False
    colormap: str = "jet"
    opacity: float = 0.45
    print_dpi: int = 150

    def validated(self) -> ReportSettings:
        """Refuse settings that would give a wrong or unreadable report (user-facing reason)."""
        if self.paper.upper() not in PAPERS:
            raise UsageError(f"paper must be A4 or Letter, not {self.paper!r}")
        if not (isinstance(self.prevalence, (int, float)) and 0.0 < self.prevalence < 1.0):
            raise UsageError("prevalence must be a fraction between 0 and 1 (e.g. 0.01 for 1%)")
        if self.colormap not in COLORMAPS:
            raise UsageError(
                f"unknown colormap {self.colormap!r}; choose from {', '.join(COLORMAPS)}"
            )
        if not 0.0 <= self.opacity <= 1.0:
            raise UsageError("opacity must be between 0 and 1")
        if not 50 <= int(self.print_dpi) <= 600:
            raise UsageError("print resolution must be between 50 and 600 dpi")
        return self


# --------------------------------------------------------------------------------------------
# Fonts and multi-script text


_font_lock = threading.Lock()
_cmaps: dict[str, frozenset[int]] = {}


def _load_font(name: str, filename: str) -> TTFont:
    """Parse one shipped TTF, found as package data."""
    node = font_file(filename)
    if not node.is_file():
        raise FileNotFoundError(f"font {filename} is missing from the installation")
    with as_path(node) as path:
        return TTFont(name, str(path))


def _ensure_fonts() -> dict[str, frozenset[int]]:
    """Register the shipped TTFs once per process and return each font's character coverage.

    Registration parses the font files (the CJK one takes ~0.1 s), so it is cached at module level;
    reportlab keeps per-document subsetting state itself, so sharing the fonts is safe.
    """
    with _font_lock:
        if _cmaps:
            return _cmaps
        loaded = {name: _load_font(name, filename) for name, filename in _FONT_FILES.items()}
        for font in loaded.values():
            pdfmetrics.registerFont(font)
        # Families let <b> inside a paragraph pick the bold face; the CJK font has no bold, so it
        # maps onto itself rather than failing.
        pdfmetrics.registerFontFamily(
            FONT_REGULAR,
            normal=FONT_REGULAR,
            bold=FONT_BOLD,
            italic=FONT_REGULAR,
            boldItalic=FONT_BOLD,
        )
        pdfmetrics.registerFontFamily(
            FONT_CJK, normal=FONT_CJK, bold=FONT_CJK, italic=FONT_CJK, boldItalic=FONT_CJK
        )
        # Filled last, so a font that fails to load leaves no half-initialised cache behind.
        _cmaps.update({name: frozenset(font.face.charToGlyph) for name, font in loaded.items()})
        return _cmaps


def _xml_char(code: int) -> bool:
    return (
        code in (0x09, 0x0A, 0x0D)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    )


def _clean(text: str) -> str:
    """Drop characters that are not valid in XML (and so would break Paragraph markup)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\t\r":
            out.append(" ")
        elif not _xml_char(code):
            continue
        else:
            out.append(ch)
    return "".join(out)


def _markup(text: Any, *, bold: bool = False) -> str:
    """Paragraph markup for arbitrary user text: XML-escaped, with per-glyph font fallback.

    Characters the primary font (DejaVu Sans) lacks but the CJK font has are wrapped in
    ``<font name=DDCJK>``; whitespace joins whichever run it falls in so that a sentence of CJK
    does not flip fonts at every space. Characters neither font has stay in the primary font
    (and print as its missing-glyph box rather than vanishing silently).
    """
    cmaps = _ensure_fonts()
    primary = cmaps[FONT_BOLD if bold else FONT_REGULAR]
    fallback = cmaps[FONT_CJK]
    text = _clean(str(text))
    runs: list[tuple[str | None, list[str]]] = []
    for ch in text:
        code = ord(ch)
        if ch.isspace() and runs:
            runs[-1][1].append(ch)
            continue
        font = FONT_CJK if code not in primary and code in fallback else None
        if runs and runs[-1][0] == font:
            runs[-1][1].append(ch)
        else:
            runs.append((font, [ch]))
    parts = []
    for font, chars in runs:
        chunk = escape("".join(chars)).replace("\n", "<br/>")
        parts.append(chunk if font is None else f'<font name="{font}">{chunk}</font>')
    return "".join(parts)


def _styles() -> dict[str, ParagraphStyle]:
    _ensure_fonts()
    base = ParagraphStyle("dd-body", fontName=FONT_REGULAR, fontSize=8.5, leading=10.5)
    return {
        "body": base,
        "small": ParagraphStyle("dd-small", parent=base, fontSize=7.5, leading=9),
        "cell": ParagraphStyle("dd-cell", parent=base, fontSize=7.5, leading=9),
        "cellb": ParagraphStyle(
            "dd-cellb", parent=base, fontName=FONT_BOLD, fontSize=7.5, leading=9
        ),
        "caption": ParagraphStyle(
            "dd-caption", parent=base, fontSize=7, leading=8.5, alignment=TA_CENTER
        ),
        "title": ParagraphStyle(
            "dd-title", parent=base, fontName=FONT_BOLD, fontSize=16, leading=19
        ),
        "title_r": ParagraphStyle(
            "dd-title-r",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=15,
            leading=18,
            alignment=TA_RIGHT,
        ),
        "right": ParagraphStyle("dd-right", parent=base, alignment=TA_RIGHT),
        "clinic": ParagraphStyle(
            "dd-clinic", parent=base, fontName=FONT_BOLD, fontSize=10, leading=12
        ),
        "h2": ParagraphStyle(
            "dd-h2",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=10,
            leading=12,
            spaceBefore=5,
            spaceAfter=3,
        ),
        "disclaimer": ParagraphStyle(
            "dd-disclaimer", parent=base, fontName=FONT_BOLD, fontSize=9, leading=11.5
        ),
        "demo": ParagraphStyle(
            "dd-demo",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=12,
            leading=15,
            textColor=RED,
            alignment=TA_CENTER,
        ),
        "footer": ParagraphStyle("dd-footer", parent=base, fontSize=6, leading=7.2),
    }


def _p(
    text: Any, style: ParagraphStyle, *, bold: bool | None = None, color: Any = None
) -> Paragraph:
    """A Paragraph of plain user text (never markup), with script fallback."""
    if bold is None:
        bold = style.fontName == FONT_BOLD
    markup = _markup(text, bold=bold)
    if bold and style.fontName != FONT_BOLD:
        markup = f"<b>{markup}</b>"
    if color is not None:
        markup = f'<font color="{_hex(color)}">{markup}</font>'
    return Paragraph(markup, style)


def _hex(color: Any) -> str:
    return "#" + color.hexval()[2:] if hasattr(color, "hexval") else str(color)


# --------------------------------------------------------------------------------------------
# Formatting helpers


def _num(value: float, digits: int = 3) -> str:
    """A number without trailing zeros: 0.5, 0.853, 12."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_percent(fraction: float) -> str:
    """Percentages as printed on the report: one decimal, more significant digits when tiny."""
    if math.isnan(fraction):
        return "n/a"
    pct = fraction * 100.0
    if pct == 0 or abs(pct) >= 0.1:
        return f"{pct:.1f}%"
    return f"{pct:.2g}%"


def format_predictive_values(sensitivity: float, specificity: float, prevalence: float) -> str:
    """The PPV/NPV sentence printed, e.g. ``PPV 3.1% / NPV 99.9% at a prevalence of 1.0%``."""
    ppv, npv = predictive_values(sensitivity, specificity, prevalence)
    return (
        f"PPV {format_percent(ppv)} / NPV {format_percent(npv)} "
        f"at a prevalence of {format_percent(prevalence)}"
    )


def _age_text(months: float | None) -> str:
    if months is None:
        return "not stated"
    whole = int(months)
    years, rem = divmod(whole, 12)
    shown = _num(float(months), 1)
    return f"{shown} months ({years} y {rem} m)"


def _age_range_text(
    age_range: tuple[float, float] | None, patient_months: float | None
) -> tuple[str, bool]:
    """The validated age range and whether the patient falls outside it."""
    if age_range is None:
        return "not stated", False
    lo, hi = age_range
    text = (
        f"{_num(float(lo), 1)}–{_num(float(hi), 1)} months ({int(lo) // 12}–{int(hi) // 12} years)"
    )
    outside = patient_months is not None and not (lo <= patient_months <= hi)
    return text, outside


def _date_text(created: str) -> str:
    try:
        moment = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return str(created)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC%z")


_ACRONYMS = {
    "auc": "AUC",
    "roc": "ROC",
    "ppv": "PPV",
    "npv": "NPV",
    "f1": "F1",
    "n": "n",
    "ece": "ECE",
}


def _metric_name(key: str) -> str:
    words = str(key).replace("_", " ").split()
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in words)


def _metric_value(value: Any, depth: int = 0) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _num(value, 3)
    if isinstance(value, dict) and depth < 2:
        inner = ", ".join(
            f"{_metric_name(k)} {_metric_value(v, depth + 1)}" for k, v in value.items()
        )
        return f"({inner})"
    if isinstance(value, (list, tuple)) and depth < 2:
        return "[" + ", ".join(_metric_value(v, depth + 1) for v in value) + "]"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def _metrics_text(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return "none stated"
    text = "; ".join(f"{_metric_name(k)} {_metric_value(v)}" for k, v in metrics.items())
    return text if len(text) <= 600 else text[:597] + "…"


# --------------------------------------------------------------------------------------------
# Images


def _as_rgb8(image: np.ndarray) -> np.ndarray:
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


def _jpeg_image(rgb: np.ndarray, box_w: float, box_h: float, dpi: int) -> Image:
    """A platypus Image of ``rgb`` fitted in a box, carried as JPEG bytes (DCTDecode in the PDF)."""
    rgb = _as_rgb8(rgb)
    w, h = _fit(rgb.shape[1], rgb.shape[0], box_w, box_h)
    small = _downscale(rgb, w, h, dpi)
    buf = io.BytesIO()
    PILImage.fromarray(small, "RGB").save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    buf.seek(0)
    return Image(buf, width=w, height=h)


def _photo_with_box(result: ScreeningResult, box_w: float, box_h: float, dpi: int) -> Image | None:
    """The photo, downscaled first (cheap), with the screened face's box drawn on the small copy."""
    if result.photo is None:
        return None
    photo = _as_rgb8(result.photo)
    w, h = _fit(photo.shape[1], photo.shape[0], box_w, box_h)
    small = np.ascontiguousarray(_downscale(photo, w, h, dpi)).copy()
    factor = small.shape[1] / photo.shape[1] * float(result.photo_scale or 1.0)
    if result.face is not None and result.face.box is not None:
        x0, y0, x1, y1 = (float(v) * factor for v in result.face.box)
        thickness = max(2, round(small.shape[1] / 150))
        cv2.rectangle(small, (round(x0), round(y0)), (round(x1), round(y1)), (0, 230, 0), thickness)
    return _jpeg_image(small, w, h, dpi=10_000)  # already at print resolution


def _logo(path: Path, dpi: int) -> Image | None:
    """The clinic's logo, flattened onto white and embedded as JPEG; a missing logo is not fatal.

    A logo that moved should not stop a clinician from printing a report, so it is logged and left
    out rather than raised.
    """
    try:
        with PILImage.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
                canvas = PILImage.new("RGB", img.size, (255, 255, 255))
                canvas.paste(img, mask=img.getchannel("A"))
                img = canvas
            rgb = np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as err:
        log.warning("logo %s could not be read (%s); report printed without it", path, err)
        return None
    return _jpeg_image(rgb, 38 * mm, 16 * mm, dpi)


class _Placeholder(Flowable):
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
        para = _p(self.text, self.style)
        _, ph = para.wrap(self.width - 6, self.height)
        para.drawOn(self.canv, 3, (self.height - ph) / 2)


# --------------------------------------------------------------------------------------------
# Page furniture


class _NumberedCanvas(rl_canvas.Canvas):
    """Defers each page so "Page N of M" can be printed once M is known (a page-count recipe)."""

    pageno_pos: tuple[float, float] = (0.0, 0.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # reportlab's name, overridden to defer the page
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            x, y = self.pageno_pos
            self.setFont(FONT_BOLD, 7)
            self.setFillColor(colors.black)
            self.drawRightString(x, y, f"Page {self._pageNumber} of {total}")
            super().showPage()
        super().save()


def _unique_bundles(results: Iterable[ModelResult]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for r in results:
        item = (r.model, r.bundle_sha256)
        if item not in seen:
            seen.append(item)
    return seen


def _footer_paragraphs(result: ScreeningResult, st: dict[str, ParagraphStyle]) -> list[Paragraph]:
    """The lines on every page: version, patient, date, and the hashes that trace the result."""
    style = st["footer"]
    patient = result.case.patient_id or "—"
    lines = [
        Paragraph(
            f"<b>{APP_NAME} {_markup(result.software_version)}</b> · {escape(REPORT_TITLE)} · "
            f"patient {_markup(patient)} · {escape(_date_text(result.created))} · "
            "screening aid, not a diagnosis",
            style,
        ),
        Paragraph(f"Photo SHA-256: {escape(result.photo_sha256 or '—')}", style),
    ]
    for model, sha in _unique_bundles(result.results):
        lines.append(Paragraph(f"Bundle SHA-256, {_markup(model)}: {escape(sha or '—')}", style))
    return lines


# --------------------------------------------------------------------------------------------
# Story


def _header(
    result: ScreeningResult, s: ReportSettings, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    left: list[Flowable] = []
    if s.logo_path:
        logo = _logo(Path(s.logo_path), s.print_dpi)
        if logo is not None:
            logo.hAlign = "LEFT"
            left.append(logo)
    if s.clinic_name:
        left.append(_p(s.clinic_name, st["clinic"]))
    if s.clinic_address:
        left.append(_p(s.clinic_address, st["small"]))
    right = [
        Paragraph(escape(REPORT_TITLE), st["title_r"]),
        Paragraph(escape(_date_text(result.created)), st["right"]),
    ]
    head = Table([[left or "", right]], colWidths=[width * 0.5, width * 0.5])
    head.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )

    case = result.case
    faces = f"{result.faces_detected} detected; screened face #{result.face_index}"
    if result.face_index == 1 and result.faces_detected > 1:
        faces += " (the largest)"
    rows = [
        ["Patient ID", case.patient_id or "—", "Age", _age_text(case.age_months)],
        ["Sex", case.sex, "Operator", case.operator or "—"],
        ["Faces", faces, "Report date", _date_text(result.created)],
    ]
    if s.include_photo_name and result.photo_label:
        rows.append(["Photo", result.photo_label, "", ""])
    cells = [
        [_p(a, st["cellb"]), _p(b, st["cell"]), _p(c, st["cellb"]), _p(d, st["cell"])]
        for a, b, c, d in rows
    ]
    info = Table(cells, colWidths=[22 * mm, width / 2 - 22 * mm, 22 * mm, width / 2 - 22 * mm])
    info.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return [head, Spacer(1, 3), info, Spacer(1, 4)]


def _warnings_box(
    result: ScreeningResult, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """The disclaimer box and, where a model is not validated, its status in red above it."""
    out: list[Flowable] = []
    labels: list[tuple[str, Any]] = []
    for r in result.results:
        if r.card.status == "validated":
            continue
        label = r.card.status_label.upper()
        if label not in (existing for existing, _ in labels):
            labels.append((label, RED if r.card.status == "demonstration" else ORANGE))
    for label, color in labels:
        style = ParagraphStyle("dd-status", parent=st["demo"], textColor=color)
        out.append(_p(label, style))
    box = Table([[_p(result.disclaimer, st["disclaimer"])]], colWidths=[width])
    box.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, -1), DISCLAIMER_BG),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    out += [Spacer(1, 2), box, Spacer(1, 5)]
    return out


def _images(
    result: ScreeningResult, s: ReportSettings, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """Photo, aligned face and one heatmap overlay per model, side by side (wrapping to a grid)."""
    cells: list[tuple[Flowable, str]] = []
    # Up to two models: four large images in one row. More: a denser grid of smaller ones, so
    # the images do not push the model tables off the first page.
    n_images = 2 + len(result.results)
    per_row = 4 if n_images <= 4 else 6
    gap = 3 * mm
    cell_w = (width - gap * (per_row - 1)) / per_row
    cell_h = min(cell_w, 34 * mm)  # a little flatter than square: the page must hold two models
    dpi = int(s.print_dpi)

    photo = _photo_with_box(result, cell_w, cell_h, dpi)
    if photo is not None:
        cells.append((photo, "Photo (screened face boxed)"))
    first = next((r for r in result.results if r.aligned_face is not None), None)
    if first is not None:
        cells.append((_jpeg_image(first.aligned_face, cell_w, cell_h, dpi), "Aligned face"))
    for r in result.results:
        caption = f"Heatmap: {r.model}" + (f" ({r.cam_method})" if r.cam_method else "")
        if r.aligned_face is not None and r.heatmap_aligned is not None:
            over = overlay_heatmap(
                _as_rgb8(r.aligned_face), r.heatmap_aligned, s.colormap, s.opacity
            )
            cells.append((_jpeg_image(over, cell_w, cell_h, dpi), caption))
        else:
            reason = "no heatmap" + (": cannot assess" if not r.assessable else "")
            cells.append(
                (
                    _Placeholder(cell_w * 0.8, cell_h * 0.5, reason, st["caption"]),
                    f"Heatmap: {r.model}",
                )
            )
    if not cells:
        return []
    rows: list[list[Any]] = []
    for start in range(0, len(cells), per_row):
        chunk = cells[start : start + per_row]
        pad = per_row - len(chunk)
        rows.append([c for c, _ in chunk] + [""] * pad)
        rows.append([_p(t, st["caption"]) for _, t in chunk] + [""] * pad)
    table = Table(rows, colWidths=[cell_w + gap] * per_row, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    note = (
        f"Heatmaps: {s.colormap} colour map at {round(s.opacity * 100)}% opacity; warmer colours "
        "mark regions that weighed more in the model's output. They explain the model, not the patient."
    )
    return [table, _p(note, st["small"]), Spacer(1, 4)]


def _model_column(
    r: ModelResult, result: ScreeningResult, s: ReportSettings, st: dict[str, ParagraphStyle]
) -> list[Flowable | list[Flowable]]:
    """One model's cells, top to bottom, in the order of :data:`_MODEL_ROWS`."""
    cell, cellb = st["cell"], st["cellb"]
    card = r.card
    names = r.class_names
    status_color = (
        RED if card.status == "demonstration" else (ORANGE if card.status == "research" else None)
    )

    result_cell: list[Flowable] = []
    if r.forced_assessment:
        result_cell.append(_p("assessed despite failed checks (--force-assess)", cellb, color=RED))
    if not r.assessable or r.probabilities is None:
        reason = r.cannot_assess_reason or "not stated"
        result_cell.append(_p(f"cannot assess: {reason}", cellb))
    else:
        syndromic = {c.id for c in card.classes if c.syndromic}
        for cid, prob in sorted(r.probabilities.items(), key=lambda kv: -kv[1]):
            mark = " *" if cid in syndromic else ""
            result_cell.append(
                _p(
                    f"{names.get(cid, cid)}{mark}: {format_percent(prob)}",
                    cell,
                    bold=cid == r.predicted,
                )
            )

    predicted = names.get(r.predicted, r.predicted) if r.predicted else "—"
    synd = "—" if r.syndromic_probability is None else format_percent(r.syndromic_probability)
    if r.flagged is None:
        flagged = _p("— (not assessed)", cell)
    elif r.flagged:
        flagged = _p("YES: above threshold, clinical review recommended", cellb, color=RED)
    else:
        flagged = _p("no", cell)
    cam = r.cam_method or "—"
    if r.cam_method and r.cam_target:
        cam += f" (target: {names.get(r.cam_target, r.cam_target)})"

    sens_spec = card.sensitivity_specificity()
    if sens_spec is None:
        pv = _p("not available (the card states no sensitivity and specificity)", cell)
    else:
        sens, spec = sens_spec
        pv = [
            _p(format_predictive_values(sens, spec, s.prevalence), cellb),
            _p(f"(sensitivity {_num(sens)}, specificity {_num(spec)})", cell),
        ]
    age_text, outside = _age_range_text(card.age_range_months, result.case.age_months)
    age_cell: list[Flowable] = [_p(age_text, cell)]
    if outside:
        age_cell.append(_p("the patient's age is outside this range", cellb, color=RED))
    training = card.training_data.get("summary") if isinstance(card.training_data, dict) else None

    return [
        _p(r.model, cellb),
        _p(card.status_label, cellb if status_color else cell, color=status_color),
        _p(card.architecture, cell),
        result_cell,
        _p(predicted, cell),
        _p(synd, cell),
        _p(f"{_num(float(r.threshold))} on the syndromic probability", cell),
        flagged,
        _p(cam, cell),
        pv,
        _p(_metrics_text(card.validation_metrics), cell),
        _p(training or "not stated", cell),
        _p(card.intended_use or "not stated", cell),
        age_cell,
    ]


_MODEL_ROWS = (
    "Model",
    "Status",
    "Architecture",
    "Probabilities",
    "Predicted class",
    "Syndromic probability",
    "Threshold",
    "Flagged",
    "Heatmap method",
    "PPV / NPV",
    "Validation metrics",
    "Training data",
    "Intended use",
    "Validated ages",
)


def _models(
    result: ScreeningResult, s: ReportSettings, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Model results", st["h2"])]
    if not result.results:
        return [*out, _p("No model was run.", st["body"])]
    label_w = 30 * mm
    per_table = min(len(result.results), MODELS_PER_TABLE)
    for start in range(0, len(result.results), MODELS_PER_TABLE):
        chunk = result.results[start : start + MODELS_PER_TABLE]
        columns = [_model_column(r, result, s, st) for r in chunk]
        col_w = (width - label_w) / per_table
        rows = [
            [_p(name, st["cellb"])] + [col[i] for col in columns]
            for i, name in enumerate(_MODEL_ROWS)
        ]
        table = Table(rows, colWidths=[label_w] + [col_w] * len(chunk), repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                    ("BACKGROUND", (0, 0), (0, -1), SHADE),
                    ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        out += [table, Spacer(1, 2)]
    note = (
        "* syndromic class. PPV and NPV follow from each card's sensitivity and specificity at a "
        f"prevalence of {format_percent(s.prevalence)}, a setting of this report (the population "
        "this clinic screens), not the prevalence in the model's validation data."
    )
    return [*out, _p(note, st["small"]), Spacer(1, 2)]


def _quality(
    result: ScreeningResult, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    cell, cellb = st["cell"], st["cellb"]
    out: list[Flowable] = [Paragraph("Photo quality checks", st["h2"])]
    symbols = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
    if result.quality:
        rows: list[list[Any]] = [
            [_p(h, cellb) for h in ("Check", "Value", "Limit", "Result", "Note")]
        ]
        for q in result.quality:
            unit = "" if not q.unit else (q.unit if q.unit in ("°", "%") else f" {q.unit}")
            value = f"{_num(float(q.value), 3)}{unit}"
            limit = f"{symbols.get(q.comparison, q.comparison)} {_num(float(q.limit), 3)}{unit}"
            if q.passed:
                verdict = _p("pass", cell)
            else:
                verdict = _p("FAIL" + (" (hard)" if q.hard else ""), cellb, color=RED)
            rows.append(
                [
                    _p(q.name.replace("_", " "), cell),
                    _p(value, cell),
                    _p(limit, cell),
                    verdict,
                    _p(q.message, cell),
                ]
            )
        widths = [38 * mm, 25 * mm, 25 * mm, 20 * mm]
        widths.append(width - sum(widths))
        table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                    ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ]
            )
        )
        out.append(table)
    else:
        out.append(_p("No quality checks were recorded.", st["body"]))
    out.append(Spacer(1, 3))
    if result.warnings:
        out.append(_p("Warnings:", st["cellb"]))
        out += [_p(f"• {w}", st["cell"]) for w in result.warnings]
    else:
        out.append(_p("Warnings: none.", st["cell"]))
    return out


def _closing(
    result: ScreeningResult, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    notes = result.case.notes.strip() if result.case.notes else ""
    block: list[Flowable] = [
        Paragraph("Notes", st["h2"]),
        _p(notes or "—", st["body"]),
        Spacer(1, 14),
    ]
    sign = Table(
        [[Paragraph("Reviewed by:", st["body"]), "", Paragraph("Date:", st["body"]), ""]],
        colWidths=[25 * mm, width * 0.5 - 25 * mm, 14 * mm, width * 0.5 - 14 * mm - 10 * mm],
        hAlign="LEFT",
    )
    sign.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (1, 0), (1, 0), 0.6, colors.black),
                ("LINEBELOW", (3, 0), (3, 0), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    block.append(sign)
    return [KeepTogether(block)]


# --------------------------------------------------------------------------------------------
# Public API


def report_bytes(result: ScreeningResult, settings: ReportSettings | None = None) -> bytes:
    """Render the report into memory (the GUI previews and the CLI writes these bytes)."""
    s = (settings or ReportSettings()).validated()
    st = _styles()
    page_w, page_h = PAPERS[s.paper.upper()]
    width = page_w - 2 * MARGIN

    footer = _footer_paragraphs(result, st)
    footer_sizes = [
        p.wrap(width - 24 * mm if i == 0 else width, page_h) for i, p in enumerate(footer)
    ]
    footer_h = sum(h for _, h in footer_sizes)
    footer_bottom = 9 * mm

    def draw_footer(canv: rl_canvas.Canvas, doc: SimpleDocTemplate) -> None:
        canv.saveState()
        top = footer_bottom + footer_h
        canv.setStrokeColor(GRID)
        canv.setLineWidth(0.5)
        canv.line(MARGIN, top + 2, page_w - MARGIN, top + 2)
        y = top
        for p, (_, h) in zip(footer, footer_sizes, strict=True):
            y -= h
            p.drawOn(canv, MARGIN, y)
        canv.restoreState()

    canvas_cls: Callable[..., rl_canvas.Canvas] = type(
        "_ReportCanvas",
        (_NumberedCanvas,),
        {"pageno_pos": (page_w - MARGIN, footer_bottom + footer_h - footer_sizes[0][1] + 1.5)},
    )

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=(page_w, page_h),
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=12 * mm,
        bottomMargin=footer_bottom + footer_h + 5 * mm,
        title=REPORT_TITLE,
        author=APP_NAME,
        creator=f"{APP_NAME} {result.software_version}",
        subject="Screening aid, not a diagnosis",
        producer=APP_NAME,
    )
    story: list[Flowable] = []
    story += _header(result, s, st, width)
    story += _warnings_box(result, st, width)
    story += _images(result, s, st, width)
    story += _models(result, s, st, width)
    story += _quality(result, st, width)
    story += _closing(result, st, width)
    doc.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer, canvasmaker=canvas_cls)
    return buf.getvalue()


def _new_file_mode() -> int:
    """The mode an ordinary new file would get; mkstemp's 0600 would surprise a shared folder.

    Reading the umask means setting it briefly; the window is tiny and only file creation by
    other threads in that instant could be affected.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def render_report(
    result: ScreeningResult,
    out_path: str | Path,
    *,
    settings: ReportSettings | None = None,
    force: bool = False,
) -> Path:
    """Write the report to ``out_path`` atomically and return the path.

    The PDF is rendered fully in memory first, then written to a temporary file in the same folder,
    fsynced and moved into place, so a crash or a full disk never leaves a half-written report (or
    a destroyed previous one) behind.
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise UsageError(f"{out_path} is a folder, not a file name")
    if out_path.exists() and not force:
        raise UsageError(f"{out_path.name} exists; use --force to overwrite")
    folder = out_path.parent if str(out_path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"folder {folder} does not exist")
    data = report_bytes(result, settings)
    mode = (out_path.stat().st_mode & 0o777) if out_path.exists() else _new_file_mode()
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{out_path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    try:  # make the rename itself durable; not possible on every platform/filesystem
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return out_path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return out_path
