"""The report's story, top to bottom (less the model tables, in :mod:`.model_table`).

Each function returns the flowables of one section: the header with the clinic and the case, the
warnings box (disclaimer and model status), the images, the quality checks and the closing
notes/signature block; :func:`footer_paragraphs` gives the lines printed at the foot of every page.
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

from dysmorph_desk.explain.overlay import overlay_heatmap
from dysmorph_desk.report.formatting import age_text, date_text, num
from dysmorph_desk.report.images import (
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
)
from dysmorph_desk.report.text import markup, para
from dysmorph_desk.screening.results import ModelResult, ScreeningResult

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


def images_block(
    result: ScreeningResult, s: ReportOptions, st: dict[str, ParagraphStyle], width: float
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

    photo = photo_with_box(result, cell_w, cell_h, dpi)
    if photo is not None:
        cells.append((photo, "Photo (screened face boxed)"))
    first_face = next((r.aligned_face for r in result.results if r.aligned_face is not None), None)
    if first_face is not None:
        cells.append((jpeg_image(first_face, cell_w, cell_h, dpi), "Aligned face"))
    for r in result.results:
        caption = f"Heatmap: {r.model}" + (f" ({r.cam_method})" if r.cam_method else "")
        if r.aligned_face is not None and r.heatmap_aligned is not None:
            over = overlay_heatmap(
                as_rgb8(r.aligned_face), r.heatmap_aligned, s.colormap, s.opacity
            )
            cells.append((jpeg_image(over, cell_w, cell_h, dpi), caption))
        else:
            reason = "no heatmap" + (": cannot assess" if not r.assessable else "")
            cells.append(
                (
                    Placeholder(cell_w * 0.8, cell_h * 0.5, reason, st["caption"]),
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
        rows.append([para(t, st["caption"]) for _, t in chunk] + [""] * pad)
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
    return [table, para(note, st["small"]), Spacer(1, 4)]


def quality_table(
    result: ScreeningResult, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """The photo quality checks (value, limit, pass/FAIL) and the screening's warnings."""
    cell, cellb = st["cell"], st["cellb"]
    out: list[Flowable] = [Paragraph("Photo quality checks", st["h2"])]
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
        out.append(para("No quality checks were recorded.", st["body"]))
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


def footer_paragraphs(result: ScreeningResult, st: dict[str, ParagraphStyle]) -> list[Paragraph]:
    """The lines on every page: version, patient, date, and the hashes that trace the result."""
    style = st["footer"]
    patient = result.case.patient_id or "—"
    lines = [
        Paragraph(
            f"<b>{APP_NAME} {markup(result.software_version)}</b> · {escape(REPORT_TITLE)} · "
            f"patient {markup(patient)} · {escape(date_text(result.created))} · "
            "screening aid, not a diagnosis",
            style,
        ),
        Paragraph(f"Photo SHA-256: {escape(result.photo_sha256 or '—')}", style),
    ]
    for model, sha in _unique_bundles(result.results):
        lines.append(Paragraph(f"Bundle SHA-256, {markup(model)}: {escape(sha or '—')}", style))
    return lines
