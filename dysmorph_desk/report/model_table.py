"""The "Model results" tables: one column per model, up to :data:`MODELS_PER_TABLE` side by side.

Each column states what the model said and everything needed to weigh it: the card's status, the
threshold, the PPV/NPV ranges at the report's prevalence (nothing for a result that cannot be
assessed), the validation as a small table (metric, value, 95% CI, n children), the validation in
the patient's age band and sex, training data, intended use and validated ages (with a red note
when the patient falls outside them).
"""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from dysmorph_desk.report.formatting import (
    age_range_text,
    format_percent,
    format_prevalence,
    num,
    predictive_value_text,
    subgroup_lines,
    validation_note,
    validation_rows,
)
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.report.style import GRID, ORANGE, RED, SHADE
from dysmorph_desk.report.text import para
from dysmorph_desk.screening.results import ModelResult, ScreeningResult

MODELS_PER_TABLE = 3  # model columns side by side; more models continue in a further table

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
    "Validation",
    "Patient's group",
    "Training data",
    "Intended use",
    "Validated ages",
)


def _validation_cell(
    r: ModelResult, st: dict[str, ParagraphStyle], width: float
) -> Flowable | list[Flowable]:
    """The card's validation as a small table: metric, value, 95% CI, n children."""
    rows = validation_rows(r.card)
    note = para(validation_note(r.card.rates()), st["small"])
    if not rows:
        return [para("none stated", st["cell"]), note]
    small = ParagraphStyle("dd-vtable", parent=st["cell"], fontSize=6, leading=7.2)
    smallb = ParagraphStyle("dd-vtable-b", parent=small, fontName=st["cellb"].fontName)
    header = [para(h, smallb) for h in ("Metric", "Value", "95% CI", "Children")]
    body = [[para(v, small) for v in row] for row in rows]
    inner = max(width - 7, 40.0)  # the outer cell's padding
    table = Table(
        [header, *body],
        colWidths=[inner * f for f in (0.25, 0.185, 0.32, 0.245)],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.4, GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 1),
                ("RIGHTPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
            ]
        )
    )
    return [table, note]


def _subgroup_cell(r: ModelResult, result: ScreeningResult, cell: ParagraphStyle) -> list[Flowable]:
    """The validation in the patient's age band and sex, or why there is none."""
    lines = subgroup_lines(r.card, result.case.age_months, result.case.sex)
    return [para(line, cell) for line in lines]


def _model_column(
    r: ModelResult,
    result: ScreeningResult,
    s: ReportOptions,
    st: dict[str, ParagraphStyle],
    width: float,
) -> list[Flowable | list[Flowable]]:
    """One model's cells, top to bottom, in the order of :data:`_MODEL_ROWS`."""
    cell, cellb = st["cell"], st["cellb"]
    card = r.card
    names = r.class_names
    status_color = (
        RED
        if card.status in ("demonstration", "failed-validation")
        else (ORANGE if card.status == "research" else None)
    )

    result_cell: list[Flowable] = []
    if r.forced_assessment:
        result_cell.append(
            para("assessed despite failed checks (--force-assess)", cellb, color=RED)
        )
    if not r.assessable or r.probabilities is None:
        reason = r.cannot_assess_reason or "not stated"
        result_cell.append(para(f"cannot assess: {reason}", cellb))
    else:
        syndromic = {c.id for c in card.classes if c.syndromic}
        for cid, prob in sorted(r.probabilities.items(), key=lambda kv: -kv[1]):
            mark = " *" if cid in syndromic else ""
            result_cell.append(
                para(
                    f"{names.get(cid, cid)}{mark}: {format_percent(prob)}",
                    cell,
                    bold=cid == r.predicted,
                )
            )

    predicted = names.get(r.predicted, r.predicted) if r.predicted else "—"
    synd = "—" if r.syndromic_probability is None else format_percent(r.syndromic_probability)
    if r.flagged is None:
        flagged = para("— (not assessed)", cell)
    elif r.flagged:
        flagged = para("YES: above threshold, clinical review recommended", cellb, color=RED)
    else:
        flagged = para("no", cell)
    cam = r.cam_method or "—"
    if r.cam_method and r.cam_target:
        cam += f" (target: {names.get(r.cam_target, r.cam_target)})"

    # nothing about PPV for a result that cannot be assessed (and never in bold there)
    pv_text = predictive_value_text(
        card, s.prevalence, r.assessable and r.probabilities is not None
    )
    pv: Flowable | list[Flowable]
    if pv_text is None:
        pv = para("—", cell)
    elif pv_text.startswith("PPV"):
        pv = [para(pv_text, cellb), para("over the 95% CIs of sensitivity and specificity", cell)]
    else:
        pv = para(pv_text, cell)
    age, outside = age_range_text(card.age_range_months, result.case.age_months)
    age_cell: list[Flowable] = [para(age, cell)]
    if outside:
        age_cell.append(para("the patient's age is outside this range", cellb, color=RED))
    training = card.training_data.get("summary") if isinstance(card.training_data, dict) else None

    return [
        para(r.model, cellb),
        para(card.status_label, cellb if status_color else cell, color=status_color),
        para(card.architecture, cell),
        result_cell,
        para(predicted, cell),
        para(synd, cell),
        para(f"{num(float(r.threshold))} on the syndromic probability", cell),
        flagged,
        para(cam, cell),
        pv,
        _validation_cell(r, st, width),
        _subgroup_cell(r, result, cell),
        para(training or "not stated", cell),
        para(card.intended_use or "not stated", cell),
        age_cell,
    ]


def model_tables(
    result: ScreeningResult, s: ReportOptions, st: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """The "Model results" heading, one table per :data:`MODELS_PER_TABLE` models, and a note."""
    out: list[Flowable] = [Paragraph("Model results", st["h2"])]
    if not result.results:
        return [*out, para("No model was run.", st["body"])]
    label_w = 30 * mm
    per_table = min(len(result.results), MODELS_PER_TABLE)
    for start in range(0, len(result.results), MODELS_PER_TABLE):
        chunk = result.results[start : start + MODELS_PER_TABLE]
        col_w = (width - label_w) / per_table
        columns = [_model_column(r, result, s, st, col_w) for r in chunk]
        rows = [
            [para(name, st["cellb"])] + [col[i] for col in columns]
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
        "* syndromic class. PPV and NPV are ranges: they follow from the 95% intervals of each "
        "card's sensitivity and specificity (children counted once) at a prevalence of "
        f"{format_prevalence(s.prevalence)}, a setting of this report (the population this clinic "
        "screens), not the prevalence in the model's validation data."
    )
    return [*out, para(note, st["small"]), Spacer(1, 2)]
