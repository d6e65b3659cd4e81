"""The PDF screening report: the answer on the first page, the details after it.

The first page holds the case, the disclaimer, the summary box (do the models agree; each model's
one-line result), the photo strip and the first heatmap; the other heatmaps (one row per model),
the quality checks and warnings, each model's card and the notes follow.

The report is what leaves the machine and ends up in a patient's file, so it is conservative by
design: the disclaimer and any "demonstration model" warning sit at the top where nobody can miss
them, every page carries the software version and the SHA-256 of the photo and of each model
bundle (so a printout can be traced back to exactly what produced it), and nothing identifying
is printed that the user did not ask for: the photo's file name only with
``include_photo_name``, never EXIF, and the PDF metadata names neither the file nor the patient.

This module assembles the document and writes it; the sections come from :mod:`.sections` and
:mod:`.model_table`, user text from :mod:`.text` (multi-script font fallback) and images from
:mod:`.images` (downscaled JPEG, which keeps a typical report well under 500 KB and its rendering
well under a second).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Flowable, SimpleDocTemplate

from dysmorph_desk.differential.result import DifferentialResult
from dysmorph_desk.report.differential import differential_section
from dysmorph_desk.report.model_table import model_tables
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.report.sections import (
    closing,
    footer_paragraphs,
    header,
    images_block,
    quality_table,
    summary_box,
    warnings_box,
)
from dysmorph_desk.report.style import (
    APP_NAME,
    FONT_BOLD,
    GRID,
    MARGIN,
    PAPERS,
    REPORT_TITLE,
    paragraph_styles,
)
from dysmorph_desk.report.visit import photo_heading, visit_table
from dysmorph_desk.screening.results import ScreeningResult
from dysmorph_desk.screening.summary import summarise
from dysmorph_desk.screening.visit import VisitResult
from dysmorph_desk.utils.atomic import check_writable, write_bytes_atomic


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


def _build(
    result: ScreeningResult,
    s: ReportOptions,
    story_for: Callable[[dict[str, Any], float], list[Flowable]],
    photo_hashes: list[str],
) -> bytes:
    """Lay out a report: the footer (from ``result``: case, date, bundles) on every page, the
    numbered pages, and the story that ``story_for(styles, width)`` returns."""
    st = paragraph_styles()
    page_w, page_h = PAPERS[s.paper.upper()]
    width = page_w - 2 * MARGIN

    footer = footer_paragraphs(result, st, photo_hashes)
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
    story = story_for(st, width)
    doc.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer, canvasmaker=canvas_cls)
    return buf.getvalue()


def report_bytes(
    result: ScreeningResult,
    settings: ReportOptions | None = None,
    *,
    differential: DifferentialResult | None = None,
) -> bytes:
    """Render the report into memory (the GUI previews and the CLI writes these bytes).

    ``differential`` adds the "Differential" table after the heatmaps (``screen --gallery/--hpo``).
    """
    s = (settings or ReportOptions()).validated()

    def story(st: dict[str, Any], width: float) -> list[Flowable]:
        out: list[Flowable] = []
        out += header(result, s, st, width)
        out += warnings_box(result, st, width)
        out += summary_box(summarise(result), st, width)
        out += images_block(result, s, st, width)
        if differential is not None:
            out += differential_section(differential, st, width)
        # the details follow the answer: quality checks and warnings, then each model's card
        out += quality_table(result, st, width)
        out += model_tables(result, s, st, width)
        out += closing(result, st, width)
        return out

    return _build(result, s, story, [result.photo_sha256])


def visit_report_bytes(
    results: list[ScreeningResult],
    visit: VisitResult,
    settings: ReportOptions | None = None,
    *,
    differential: DifferentialResult | None = None,
) -> bytes:
    """One report for a visit of several photos: the case, the visit's fused result per model
    (and whether the photos disagree), then each photo's strip, model results and quality checks.

    Args:
        results: the visit's screened photos (same case, same bundles), in order.
        visit: ``screening.visit.fuse_visit(results)``.
        settings: the clinic's report options.
        differential: the visit's differential (its embedding: the mean of the photos'), if any.
    """
    if not results:
        raise ValueError("a visit report needs at least one screened photo")
    s = (settings or ReportOptions()).validated()
    first = results[0]

    def story(st: dict[str, Any], width: float) -> list[Flowable]:
        out: list[Flowable] = []
        out += header(first, s, st, width)
        out += warnings_box(first, st, width)
        out += visit_table(visit, st, width)
        if differential is not None:
            out += differential_section(differential, st, width)
        for i, result in enumerate(results, start=1):
            out += photo_heading(i, len(results), result, st, width)
            out += images_block(result, s, st, width)
            out += quality_table(result, st, width)
            out += model_tables(result, s, st, width)
        out += closing(first, st, width)
        return out

    return _build(first, s, story, [r.photo_sha256 for r in results])


def render_report(
    result: ScreeningResult,
    out_path: str | Path,
    *,
    settings: ReportOptions | None = None,
    force: bool = False,
    differential: DifferentialResult | None = None,
) -> Path:
    """Write the screening report for ``result`` to ``out_path`` as a PDF and return the path.

    The report is what a clinician prints and files, so it must never be half-written or silently
    replace another: the PDF is rendered fully in memory first, and only then written to a
    temporary file in the same folder, fsynced and moved into place, so a crash or a full disk
    never leaves a half-written report (or a destroyed previous one) behind. Overwriting an
    existing report keeps its file permissions and needs ``force``. Everything that can be refused
    (the path, the options) is refused before any rendering work.

    Args:
        result: The screening to report: the case, the photo, quality checks and each model's
            result with its model card.
        out_path: The PDF to write; a missing folder is created (as ``--json`` and ``--out-dir``
            do).
        settings: The clinic's choices (clinic name and logo, paper, the prevalence behind the
            PPV/NPV figures, heatmap colours, print resolution); ``ReportOptions()`` if None.
        force: Overwrite ``out_path`` if it exists; otherwise an existing file is refused.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        UsageError: ``out_path`` is a folder, it exists and ``force`` is not set ("<name> exists;
            use --force to overwrite"), or ``settings`` are invalid.
        OutputError: the file cannot be written (permission, read-only or full disk; exit 2).

    Example::

        from dysmorph_desk.report.options import ReportOptions
        from dysmorph_desk.report.render import render_report

        options = ReportOptions(clinic_name="Genetics Clinic", paper="Letter", prevalence=0.005)
        render_report(result, "reports/screening-P0042.pdf", settings=options, force=True)
    """
    out_path = Path(out_path)
    check_writable(out_path, force)
    data = report_bytes(result, settings, differential=differential)
    return write_bytes_atomic(out_path, data, force=force, keep_mode=True, sync_dir=True)
