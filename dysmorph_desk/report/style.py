"""The report's look: shipped fonts, colours, paragraph styles and page geometry (reportlab side).

The fonts are registered once per process; :func:`ensure_fonts` also returns each font's character
coverage, which :func:`dysmorph_desk.report.text.markup` uses to fall back from DejaVu Sans to the
CJK font glyph by glyph.
"""

from __future__ import annotations

import threading

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from dysmorph_desk.utils.resources import as_path, font_file

REPORT_TITLE = "Facial screening report"
APP_NAME = "DysmorphDesk"

# Page sizes in points, keyed by the names in report.options.PAPER_NAMES (ReportOptions.paper,
# upper-cased).
PAPERS: dict[str, tuple[float, float]] = {"A4": A4, "LETTER": LETTER}
MARGIN = 14 * mm

# Registered font names. The files are package data (resources/fonts/, see LICENSES.md there).
FONT_REGULAR = "DDSans"
FONT_BOLD = "DDSans-Bold"
FONT_CJK = "DDCJK"
_FONT_FILES = {
    FONT_REGULAR: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
    FONT_CJK: "DroidSansFallbackFull.ttf",
}

RED = colors.HexColor("#B00020")
ORANGE = colors.HexColor("#B35900")
GRID = colors.HexColor("#9E9E9E")
SHADE = colors.HexColor("#EEEEEE")
DISCLAIMER_BG = colors.HexColor("#FFF4D6")

_font_lock = threading.Lock()
_cmaps: dict[str, frozenset[int]] = {}


def _load_font(name: str, filename: str) -> TTFont:
    """Parse one shipped TTF, found as package data."""
    node = font_file(filename)
    if not node.is_file():
        raise FileNotFoundError(f"font {filename} is missing from the installation")
    with as_path(node) as path:
        return TTFont(name, str(path))


def ensure_fonts() -> dict[str, frozenset[int]]:
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


def paragraph_styles() -> dict[str, ParagraphStyle]:
    """The report's paragraph styles by role ("body", "cell", "title_r", "footer", ...)."""
    ensure_fonts()
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
        "caption_b": ParagraphStyle(
            "dd-caption-b",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=7.5,
            leading=9,
            alignment=TA_CENTER,
            spaceBefore=1,
        ),
        "summary_title": ParagraphStyle(
            "dd-summary-title", parent=base, fontName=FONT_BOLD, fontSize=11, leading=13
        ),
        "summary_sentence": ParagraphStyle(
            "dd-summary-sentence", parent=base, fontName=FONT_BOLD, fontSize=9.5, leading=12
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
            keepWithNext=1,  # a heading never ends a page: it moves on with what it heads
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


def header_grid_style() -> list[tuple]:
    """The style of the report's plain tables: a light grid, a shaded header row, tight rows."""
    return [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
