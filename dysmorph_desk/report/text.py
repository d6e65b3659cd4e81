"""User text on the report in any script: XML-safe Paragraph markup with per-glyph font fallback.

Patient identifiers and notes may be written in any script and reportlab has no font fallback of
its own, so every run of user text goes through :func:`markup` (or :func:`para`, which wraps it in a
Paragraph): characters DejaVu Sans lacks but the CJK font has are switched to the CJK font.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph

from dysmorph_desk.report.style import FONT_BOLD, FONT_CJK, FONT_REGULAR, ensure_fonts


def _xml_char(code: int) -> bool:
    return (
        code in (0x09, 0x0A, 0x0D)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    )


def clean(text: str) -> str:
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


def markup(text: Any, *, bold: bool = False) -> str:
    """Paragraph markup for arbitrary user text: XML-escaped, with per-glyph font fallback.

    Characters the primary font (DejaVu Sans) lacks but the CJK font has are wrapped in
    ``<font name=DDCJK>``; whitespace joins whichever run it falls in so that a sentence of CJK
    does not flip fonts at every space. Characters neither font has stay in the primary font
    (and print as its missing-glyph box rather than vanishing silently).
    """
    cmaps = ensure_fonts()
    primary = cmaps[FONT_BOLD if bold else FONT_REGULAR]
    fallback = cmaps[FONT_CJK]
    text = clean(str(text))
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


def _hex(color: Any) -> str:
    return "#" + color.hexval()[2:] if hasattr(color, "hexval") else str(color)


def para(
    text: Any, style: ParagraphStyle, *, bold: bool | None = None, color: Any = None
) -> Paragraph:
    """A Paragraph of plain user text (never markup), with script fallback."""
    if bold is None:
        bold = style.fontName == FONT_BOLD
    marked = markup(text, bold=bold)
    if bold and style.fontName != FONT_BOLD:
        marked = f"<b>{marked}</b>"
    if color is not None:
        marked = f'<font color="{_hex(color)}">{marked}</font>'
    return Paragraph(marked, style)
