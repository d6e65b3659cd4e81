"""The report's story, top to bottom (less the model tables, in :mod:`.model_table`).

Each function returns the flowables of one section: the header with the clinic and the case, the
warnings box (disclaimer and model status), the summary box (the answer first: do the models agree,
and each model's one-line result), the images (the photo strip, then one row per model with the
aligned face and its heatmap side by side, each at least 6 cm wide, the colour bar and the class the
map explains), the quality checks and the closing notes/signature block; :func:`footer_paragraphs`
gives the lines printed at the foot of every page. Section headings never end a page: the ``h2``
style keeps them with what follows, and the heatmap and quality headings are kept together with
their first row or table explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from dysmorph_desk.explain.methods import CAM_LABELS
from dysmorph_desk.explain.overlay import overlay_heatmap
from dysmorph_desk.report.formatting import age_text, date_text, format_percent, num
from dysmorph_desk.report.images import (
    ColourBar,
    Placeholder,
    as_rgb8,
    jpeg_image,
    logo_image,
    photo_with_box,
)
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.report.style import (
    APP_NAME,
    DISCLAIMER_BG,
    GRID,
    ORANGE,
    RED,
    REPORT_TITLE,
    SHADE,
    header_grid_style,
)
from dysmorph_desk.report.text import markup, para
from dysmorph_desk.screening.results import ModelResult, ScreeningResult
from dysmorph_desk.screening.summary import ModelLine, Summary, summarise

_ADDRESS_LINES = 4  # the header is one table row, which cannot split across pages


def _address_lines(address: str) -> str:
    """The address on at most ``_ADDRESS_LINES`` lines (the last one takes the rest, comma-joined).

    A row of a reportlab Table cannot break across pages, so an address of hundreds of short
    lines would make the header taller than the page (LayoutError).
    """
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    if len(lines) > _ADDRESS_LINES:
        lines[_ADDRESS_LINES - 1 :] = [", ".join(lines[_ADDRESS_LINES - 1 :])]
    return "\n".join(lines)


def header(
    result: ScreeningResult, s: ReportOptions, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """Clinic (logo, name, address) beside the title and date, then the case details."""
    left: list[Flowable] = []
    if s.logo_path:
        logo = logo_image(Path(s.logo_path), s.print_dpi)
        if logo is not None:
            logo.hAlign = "LEFT"
            left.append(logo)
    if s.clinic_name:
        left.append(para(s.clinic_name, st["clinic"]))
    if s.clinic_address:
        left.append(para(_address_lines(s.clinic_address), st["small"]))
    right = [
        Paragraph(escape(REPORT_TITLE), st["title_r"]),
        Paragraph(escape(date_text(result.created)), st["right"]),
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
        ["Patient ID", case.patient_id or "—", "Age", age_text(case.age_months)],
        ["Sex", case.sex, "Operator", case.operator or "—"],
        ["Faces", faces, "Report date", date_text(result.created)],
    ]
    if s.include_photo_name and result.photo_label:
        rows.append(["Photo", result.photo_label, "", ""])
    cells = [
        [para(a, st["cellb"]), para(b, st["cell"]), para(c, st["cellb"]), para(d, st["cell"])]
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


def warnings_box(
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
        out.append(para(label, style))
    box = Table([[para(result.disclaimer, st["disclaimer"])]], colWidths=[width])
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


HEATMAP_W = 62 * mm  # each heatmap, and the aligned face beside it, prints at least 6 cm wide
PHOTO_H = 52 * mm  # the photo strip on the first page


def _verdict_cell(line: ModelLine, st: dict[str, ParagraphStyle]) -> Paragraph:
    if line.verdict == "flagged":
        return para("FLAGGED for clinical review", st["cellb"], color=RED)
    if line.verdict == "cannot assess":
        return para("cannot assess", st["cellb"], color=ORANGE)
    return para("not flagged", st["cell"])


def _line_detail(line: ModelLine) -> str:
    if line.syndromic_probability is None:
        text = line.reason or "reason not stated"
    else:
        text = (
            f"syndromic probability {format_percent(line.syndromic_probability)} "
            f"(threshold {format_percent(line.threshold)})"
        )
    return f"{text}; {line.note}" if line.note else text


def summary_box(
    summary: Summary, st: dict[str, ParagraphStyle], width: float, title: str = "Summary"
) -> list[Flowable]:
    """The answer first, boxed: whether the models agree, then each model's one-line result
    (flagged / not flagged / cannot assess, syndromic probability against its threshold)."""
    if not summary.lines:
        return []
    color = {"flagged": RED, "disagree": RED, "cannot assess": ORANGE}.get(summary.overall or "")
    head: list[Any] = [para(title, st["summary_title"])]
    head.append(
        para(summary.agreement, st["summary_sentence"], color=color) if summary.agreement else ""
    )
    head.append("")
    rows: list[list[Any]] = [head]
    for line in summary.lines:
        rows.append(
            [
                para(line.model, st["cellb"]),
                _verdict_cell(line, st),
                para(_line_detail(line), st["cell"]),
            ]
        )
    widths = [40 * mm, 50 * mm]
    widths.append(width - sum(widths))
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("SPAN", (1, 0), (2, 0)),
                ("BOX", (0, 0), (-1, -1), 1.2, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, GRID),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 5),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("TOPPADDING", (0, 0), (-1, 0), 3.5),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 4),
            ]
        )
    )
    return [table, Spacer(1, 5)]


def _quality_line(result: ScreeningResult) -> str:
    if not result.quality:
        return "Photo quality: no checks recorded."
    failed = result.quality_failures()
    if not failed:
        return f"Photo quality: all {len(result.quality)} checks passed."
    names = ", ".join(q.name.replace("_", " ") + (" (hard)" if q.hard else "") for q in failed)
    return (
        f"Photo quality: {len(failed)} of {len(result.quality)} checks failed: {names} "
        "(see the photo quality checks)."
    )


def _cam_class(r: ModelResult) -> str | None:
    if not r.cam_target:
        return None
    return r.class_names.get(r.cam_target, r.cam_target)


def photo_strip(
    result: ScreeningResult, s: ReportOptions, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """The photo with the screened face boxed, beside what to read from it and from the maps."""
    photo = photo_with_box(result, width * 0.45, PHOTO_H, int(s.print_dpi))
    lines: list[Flowable] = [para(_quality_line(result), st["body"])]
    if result.warnings:
        n = len(result.warnings)
        lines.append(
            para(
                f"{n} warning{'s' if n != 1 else ''}, listed under the photo quality checks.",
                st["body"],
            )
        )
    if photo is None:
        return [*lines, Spacer(1, 2)]
    photo_w = max(float(photo.drawWidth), 40 * mm)
    left = [photo, Spacer(1, 1.5), para("Photo (screened face boxed)", st["caption"])]
    table = Table(
        [[left, lines]], colWidths=[photo_w + 6 * mm, width - photo_w - 6 * mm], hAlign="LEFT"
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (0, 0), 6 * mm),
                ("RIGHTPADDING", (1, 0), (1, 0), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [table, Spacer(1, 4)]


def _no_map(r: ModelResult) -> str:
    """Why a model has no heatmap on the report."""
    if not r.assessable:
        return "cannot assess"
    if r.heatmap_aligned is None:
        return "no heatmap method chosen" if not r.cam_method else "the heatmap was not valid"
    return "no aligned face to draw it on"


def _heatmap_row(
    r: ModelResult,
    line: ModelLine | None,
    s: ReportOptions,
    st: dict[str, ParagraphStyle],
    width: float,
) -> Flowable:
    """One model: its aligned face and its heatmap side by side (each ``HEATMAP_W`` wide), the colour
    bar and the explained class under the map, and the model's result beside them."""
    dpi = int(s.print_dpi)
    cls = _cam_class(r)
    method = CAM_LABELS.get(r.cam_method, r.cam_method) if r.cam_method else None
    side: list[Flowable] = [para(r.model, st["cellb"])]
    if line is not None:
        side.append(_verdict_cell(line, st))
        side.append(para(_line_detail(line), st["cell"]))
    if method:
        side.append(Spacer(1, 3))
        side.append(para(f"Heatmap: {method}" + (f", class {cls}" if cls else ""), st["cell"]))
    if r.aligned_face is None or r.heatmap_aligned is None:
        gap = Placeholder(HEATMAP_W * 0.5, 9 * mm, f"No heatmap: {_no_map(r)}", st["caption"])
        row = Table(
            [[gap, side]], colWidths=[HEATMAP_W * 0.5 + 5 * mm, width - HEATMAP_W * 0.5 - 5 * mm]
        )
    else:
        face = jpeg_image(as_rgb8(r.aligned_face), HEATMAP_W, HEATMAP_W, dpi)
        over = overlay_heatmap(as_rgb8(r.aligned_face), r.heatmap_aligned, s.colormap, s.opacity)
        heat = jpeg_image(over, HEATMAP_W, HEATMAP_W, dpi)
        looked = f"Where {r.model} looked for {cls}" if cls else f"Heatmap of {r.model}"
        left = [face, Spacer(1, 2), para("Aligned face (the model's input)", st["caption"])]
        mid = [
            heat,
            Spacer(1, 2),
            ColourBar(HEATMAP_W, s.colormap),
            para(looked, st["caption_b"]),
        ]
        gap = 4 * mm
        rest = width - 2 * (HEATMAP_W + gap)
        row = Table([[left, mid, side]], colWidths=[HEATMAP_W + gap, HEATMAP_W + gap, rest])
    row.hAlign = "LEFT"
    row.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4 * mm),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return row  # one table row: it never splits across pages


def images_block(
    result: ScreeningResult, s: ReportOptions, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """The photo strip, then one row per model: aligned face and heatmap side by side, each at
    least 6 cm wide, with the colour bar ("less ↔ more influence") and the explained class under
    the map."""
    out = photo_strip(result, s, st, width)
    if not result.results:
        return out
    if all(r.aligned_face is None or r.heatmap_aligned is None for r in result.results):
        why = "; ".join(f"{r.model}: {_no_map(r)}" for r in result.results)
        return [*out, para(f"No heatmaps to show ({why}).", st["body"]), Spacer(1, 4)]
    lines = summarise(result).lines
    rows = [
        _heatmap_row(r, line, s, st, width) for r, line in zip(result.results, lines, strict=True)
    ]
    note = para(
        f"Heatmaps: {s.colormap} colour scale at {round(s.opacity * 100)}% opacity; the bar under "
        "each map runs from less to more influence on the model's score for the class named "
        "under it. They explain the model, not the patient.",
        st["small"],
    )
    heading = Paragraph("Heatmaps", st["h2"])
    # the heading never stands alone at a page foot: it travels with the first model's row
    rest = [item for row in rows[1:] for item in (Spacer(1, 5), row)]
    return [*out, KeepTogether([heading, rows[0]]), *rest, Spacer(1, 3), note, Spacer(1, 4)]


def quality_table(
    result: ScreeningResult, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """The photo quality checks (value, limit, pass/FAIL) and the screening's warnings."""
    cell, cellb = st["cell"], st["cellb"]
    heading = Paragraph("Photo quality checks", st["h2"])
    out: list[Flowable] = []
    symbols = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
    if result.quality:
        rows: list[list[Any]] = [
            [para(h, cellb) for h in ("Check", "Value", "Limit", "Result", "Note")]
        ]
        for q in result.quality:
            unit = "" if not q.unit else (q.unit if q.unit in ("°", "%") else f" {q.unit}")
            value = f"{num(float(q.value), 3)}{unit}"
            limit = f"{symbols.get(q.comparison, q.comparison)} {num(float(q.limit), 3)}{unit}"
            if q.passed:
                verdict = para("pass", cell)
            else:
                verdict = para("FAIL" + (" (hard)" if q.hard else ""), cellb, color=RED)
            rows.append(
                [
                    para(q.name.replace("_", " "), cell),
                    para(value, cell),
                    para(limit, cell),
                    verdict,
                    para(q.message, cell),
                ]
            )
        widths = [38 * mm, 25 * mm, 25 * mm, 20 * mm]
        widths.append(width - sum(widths))
        table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(TableStyle(header_grid_style()))
        # the heading is never left alone at the foot of a page: it moves with its table
        out.append(KeepTogether([heading, table]))
    else:
        out.append(KeepTogether([heading, para("No quality checks were recorded.", st["body"])]))
    out.append(Spacer(1, 3))
    if result.warnings:
        out.append(para("Warnings:", st["cellb"]))
        out += [para(f"• {w}", st["cell"]) for w in result.warnings]
    else:
        out.append(para("Warnings: none.", st["cell"]))
    return out


def closing(result: ScreeningResult, st: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    """The case notes and a "Reviewed by / Date" line, kept together on one page."""
    notes = result.case.notes.strip() if result.case.notes else ""
    block: list[Flowable] = [
        Paragraph("Notes", st["h2"]),
        para(notes or "—", st["body"]),
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


def _unique_bundles(results: Iterable[ModelResult]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for r in results:
        item = (r.model, r.bundle_sha256)
        if item not in seen:
            seen.append(item)
    return seen


def footer_paragraphs(
    result: ScreeningResult, st: dict[str, ParagraphStyle], photo_hashes: list[str] | None = None
) -> list[Paragraph]:
    """The lines on every page: version, patient, date, and the hashes that trace the result
    (every photo's, for a visit report)."""
    style = st["footer"]
    patient = result.case.patient_id or "—"
    lines = [
        Paragraph(
            f"<b>{APP_NAME} {markup(result.software_version)}</b> · {escape(REPORT_TITLE)} · "
            f"patient {markup(patient)} · {escape(date_text(result.created))} · "
            "screening aid, not a diagnosis",
            style,
        ),
    ]
    hashes = photo_hashes or [result.photo_sha256]
    for i, sha in enumerate(hashes, start=1):
        which = f" {i}" if len(hashes) > 1 else ""
        lines.append(Paragraph(f"Photo{which} SHA-256: {escape(sha or '—')}", style))
    for model, sha in _unique_bundles(result.results):
        lines.append(Paragraph(f"Bundle SHA-256, {markup(model)}: {escape(sha or '—')}", style))
    return lines
