"""The report's "Differential" table: the top candidates with each source's score beside the rank.

Gallery entries are printed by entry number and disorder only (never another child's patient id);
the gallery is identified by its SHA-256 and size so a printout can be traced to exactly the
gallery it was ranked against, and the entered HPO terms are listed by id and label.
"""

from __future__ import annotations

from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from dysmorph_desk.differential.result import (
    DIFFERENTIAL_DISCLAIMER,
    DifferentialResult,
    distance_text,
)
from dysmorph_desk.report.formatting import format_rate
from dysmorph_desk.report.style import ORANGE, header_grid_style
from dysmorph_desk.report.text import para


def _nearest_text(entries: tuple[tuple[int, float], ...], limit: int = 3) -> str:
    return ", ".join(f"#{e} ({distance_text(d)})" for e, d in entries[:limit]) or "–"


def _gallery_line(diff: DifferentialResult) -> str:
    g = diff.gallery
    if g is None:
        return "Gallery: none (phenotype terms only)."
    text = (
        f"Gallery SHA-256 {g.sha256[:16]}…, {g.entries} entries of {g.disorders} disorders, "
        f"embeddings of {g.bundle} ({g.status}); per disorder: {g.aggregate}; {g.signature}."
    )
    if g.threshold is not None:
        text += f" Threshold for a close match: cosine distance {distance_text(g.threshold)}"
        rate = g.false_match
        if rate is not None:
            text += (
                f" (unrelated children of its calibration matched, {g.false_match_basis}: "
                f"{format_rate(rate)})"
            )
        text += "."
    return text


def differential_section(
    diff: DifferentialResult, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """The Differential heading, its inputs (gallery, terms), the top-10 table and its notes."""
    cell, cellb = st["cell"], st["cellb"]
    heading = Paragraph("Differential", st["h2"])
    intro = [para(DIFFERENTIAL_DISCLAIMER, cell), para(_gallery_line(diff), cell)]
    if diff.hpo_terms:
        terms = "; ".join(f"{t.id} {t.label}" for t in diff.hpo_terms)
        release = f" (HPO release {diff.hpo_release})" if diff.hpo_release else ""
        intro.append(para(f"Entered phenotype terms{release}: {terms}.", cell))
    else:
        intro.append(para("No phenotype terms entered: the ranking uses the face alone.", cell))
    if diff.no_close_match and diff.nearest_distance is not None:
        intro.append(
            para(
                f"No close match: the nearest gallery entry is at distance "
                f"{distance_text(diff.nearest_distance)}, beyond the threshold; the gestalt ranking below "
                "is shown for completeness only.",
                cellb,
                color=ORANGE,
            )
        )
    out: list[Flowable] = []
    if not diff.rows:
        out.append(KeepTogether([heading, *intro, para("No candidates.", cell)]))
        return out
    rows: list[list[Any]] = [
        [
            para(h, cellb)
            for h in (
                "#",
                "Disorder",
                "Gestalt distance",
                "Nearest gallery entries",
                "Phenotype score",
                "Combined score",
            )
        ]
    ]
    for r in diff.rows:
        name = (
            f"{r.name} ({r.disorder_id})" if r.name and r.name != r.disorder_id else r.disorder_id
        )
        if not r.in_ontology and r.gestalt_distance is not None:
            kind = "local id" if r.disorder_id.startswith("LOCAL:") else "no HPO annotation"
            name += f" – {kind}, face only"
        rows.append(
            [
                para(str(r.rank), cell),
                para(name, cell),
                para(
                    "–" if r.gestalt_distance is None else f"{distance_text(r.gestalt_distance)}",
                    cell,
                ),
                para(_nearest_text(r.nearest_entries), cell),
                para("–" if r.phenotype_score is None else f"{r.phenotype_score:.2f}", cell),
                para(f"{r.combined_score:.3f}", cell),
            ]
        )
    widths = [8 * mm, 0.0, 21 * mm, 36 * mm, 23 * mm, 21 * mm]
    widths[1] = width - sum(widths)
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(header_grid_style()))
    out.append(KeepTogether([heading, *intro, Spacer(1, 2), table]))
    w = diff.weights
    notes = [
        "Gestalt distance: cosine distance (0 = same direction, 2 = opposite) of the photo's "
        "embedding to "
        + (
            f"the mean of the disorder's {diff.gallery.k} nearest gallery patients"
            if diff.gallery is not None and diff.gallery.aggregate == "mean-k"
            else "the disorder's nearest gallery patient"
        )
        + "; lower is closer.",
        "Phenotype score: Resnik similarity, best-match average (funSimAvg), of the entered terms "
        "to the disorder's HPO annotation.",
        f"Combined: logistic combination ({w.fitted_on}"
        + (f", {w.n_cases} cases" if w.n_cases else "")
        + "); orders the candidates, not a probability.",
    ]
    notes += diff.notes
    out += [para(n, st["cell"]) for n in notes]
    out.append(Spacer(1, 3))
    return out
