"""The visit pages of a report: the fused result per model first, then a heading per photo.

A visit of several photos is reported once: the clinician reads the visit's answer (and whether the
photos disagree) before the photos' own strips and results, which follow with "Photo k of n"
headings (``render.visit_report_bytes``).
"""

from __future__ import annotations

from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from dysmorph_desk.report.formatting import format_percent
from dysmorph_desk.report.style import ORANGE, RED, header_grid_style
from dysmorph_desk.report.text import para
from dysmorph_desk.screening.results import ScreeningResult
from dysmorph_desk.screening.summary import summarise_visit
from dysmorph_desk.screening.visit import ModelVisitResult, VisitResult


def _verdict(m: ModelVisitResult, st: dict[str, ParagraphStyle]) -> Paragraph:
    if not m.assessable:
        return para(f"cannot assess — {m.cannot_assess_reason}", st["cell"], color=ORANGE)
    if m.flagged:
        return para("FLAGGED for clinical review", st["cellb"], color=RED)
    return para("not flagged", st["cell"])


def visit_table(visit: VisitResult, st: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    """Per model: the visit's syndromic probability against the threshold, how many photos it
    rests on, and each photo's own value; then the visit's warnings (disagreement first)."""
    cell, cellb = st["cell"], st["cellb"]
    n = len(visit.photo_sha256s)
    rows: list[list[Any]] = [
        [
            para(h, cellb)
            for h in ("Model", "Visit result", "Syndromic", "Threshold", "Photos", "Per photo")
        ]
    ]
    for m in visit.models:
        per = ", ".join("—" if v is None else format_percent(v) for v in m.per_photo)
        rows.append(
            [
                para(m.model, cell),
                _verdict(m, st),
                para(
                    "—"
                    if m.syndromic_probability is None
                    else format_percent(m.syndromic_probability),
                    cell,
                ),
                para(format_percent(m.threshold), cell),
                para(f"{m.photos_assessed} of {m.photos_total}", cell),
                para(per, cell, color=RED if m.photos_disagree else None),
            ]
        )
    widths = [32 * mm, 48 * mm, 20 * mm, 20 * mm, 16 * mm]
    widths.append(width - sum(widths))
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(header_grid_style()))
    summary = summarise_visit(visit)
    block: list[Flowable] = [
        Paragraph(f"Visit result ({n} photo{'s' if n != 1 else ''})", st["h2"]),
    ]
    if summary.agreement:  # the answer before the figures: do the models agree on the visit?
        color = {"flagged": RED, "disagree": RED, "cannot assess": ORANGE}.get(
            summary.overall or ""
        )
        block.append(para(summary.agreement, st["summary_sentence"], color=color))
        block.append(Spacer(1, 2))
    block += [
        table,
        Spacer(1, 2),
        para(f"Fusion: {visit.fusion}.", st["small"]),
    ]
    block += [para(f"• {w}", cellb, color=RED) for w in visit.warnings]
    return [KeepTogether(block), Spacer(1, 4)]


def photo_heading(
    index: int, total: int, result: ScreeningResult, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """ "Photo k of n" with its hash, before that photo's strip and results."""
    name = f" — {result.photo_label}" if result.photo_label else ""
    return [
        Spacer(1, 4),
        para(f"Photo {index} of {total}{name}", st["h2"]),
        para(f"SHA-256 {result.photo_sha256}", st["small"]),
    ]
