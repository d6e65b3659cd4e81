"""A model card as the app shows it (tooltips, the Models dialog, the card window).

The validation is written by the report's own helpers (``report.formatting.validation_rows``,
``validation_note`` and ``subgroup_lines``), so the app never shows a rate that the PDF would print
differently: every sensitivity and specificity carries its 95 % interval and the number of
children, or says that they were not recorded.
"""

from __future__ import annotations

from html import escape

from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.report.formatting import subgroup_lines, validation_note, validation_rows
from dysmorph_desk.screening.results import CaseInfo

NO_VALIDATION = "none stated on the model card"


def _summary(value: object) -> str:
    """A short rendering of a free-form card field (the training data's summary)."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_summary(v)}" for k, v in list(value.items())[:6])
    return str(value)


def validation_lines(card: ModelCard) -> list[str]:
    """One line per validation metric, e.g. ``Sensitivity 90% (95% CI 55.5–99.7%, n = 10
    children)`` or ``Sensitivity 98.7% (95% CI unknown, n not recorded)``."""
    lines = []
    for metric, value, ci, n in validation_rows(card):
        count = "n not recorded" if n in ("—", "") else f"n = {n} children"
        lines.append(f"{metric} {value} (95% CI {ci}, {count})")
    return lines


def validation_text(card: ModelCard) -> str:
    """The validation as plain text, lines then the note on what was counted (table cells)."""
    lines = validation_lines(card)
    if not lines:
        return NO_VALIDATION
    return "\n".join([*lines, validation_note(card.rates())])


def validation_html(card: ModelCard) -> str:
    """The validation as the report's small table: metric, value, 95% CI, children; then the note."""
    rows = validation_rows(card)
    if not rows:
        return escape(NO_VALIDATION)
    head = "".join(f"<th align='left'>{h}</th>" for h in ("Metric", "Value", "95% CI", "Children"))
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    note = escape(validation_note(card.rates()))
    return f"<table cellspacing='2'><tr>{head}</tr>{body}</table><i>{note}</i>"


def card_html(card: ModelCard, sha256: str = "", case: CaseInfo | None = None) -> str:
    """The model card as rich text; with ``case``, also the validation in the patient's group."""
    rows = [
        ("Status", escape(card.status_label)),
        ("Architecture", escape(card.architecture)),
        (
            "Classes",
            escape(
                ", ".join(
                    f"{c.display_name}{' (syndromic)' if c.syndromic else ''}" for c in card.classes
                )
            ),
        ),
        ("Threshold", f"{card.threshold:.2f} on the syndromic probability"),
        (
            "Validated ages",
            f"{card.age_range_months[0]:g}–{card.age_range_months[1]:g} months"
            if card.age_range_months
            else "not stated",
        ),
        ("Intended use", escape(card.intended_use)),
        (
            "Training data",
            escape(
                _summary(card.training_data.get("summary", card.training_data))
                if isinstance(card.training_data, dict)
                else str(card.training_data)
            ),
        ),
        ("Validation", validation_html(card)),
    ]
    if case is not None:
        lines = subgroup_lines(card, case.age_months, case.sex)
        rows.append(("Patient's group", "<br>".join(escape(line) for line in lines)))
    if card.description:
        rows.append(("Description", escape(card.description)))
    if sha256:
        rows.append(("Bundle SHA-256", escape(sha256[:16]) + "…"))
    body = "".join(
        f"<tr><td valign='top'><b>{escape(k)}</b></td><td>{v}</td></tr>" for k, v in rows
    )
    return f"<h3>{escape(card.name)}</h3><table cellspacing='4'>{body}</table>"
