"""The app shows a card's validation in the report's words: each rate with its 95 % interval and
number of children, or "unknown" where the card did not record them; the patient's group."""

from __future__ import annotations

from dysmorph_desk.gui.card_text import card_html, validation_lines, validation_text
from dysmorph_desk.report.formatting import validation_rows
from tests import fakes

COUNTED = {  # 10 syndromic children (9 found), 20 others (18 cleared), per child
    "counts": {"unit": "child", "tp": 9, "fn": 1, "tn": 18, "fp": 2},
    "auc": 0.91,
    "auc_ci95": [0.8, 0.97],
    "subgroups": {
        "age_band": {"1-3 y": {"unit": "child", "tp": 4, "fn": 1, "tn": 9, "fp": 1}},
    },
    "min_children_per_subgroup": 5,
}


def test_counted_rates_carry_interval_and_n():
    card = fakes.card(validation_metrics=COUNTED)
    lines = validation_lines(card)
    rows = validation_rows(card)  # the PDF's own numbers
    assert lines == [f"{m} {v} (95% CI {ci}, n = {n} children)" for m, v, ci, n in rows]
    assert lines[0].startswith("Sensitivity 90.0% (95% CI 55.5–99.75%, n = 10 children)")
    assert lines[1].startswith("Specificity 90.0% (95% CI ") and "n = 20 children" in lines[1]
    assert lines[2] == "AUC 0.910 (95% CI 0.800–0.970, n = 30 children)"
    assert validation_text(card).endswith("exact 95% intervals (Clopper–Pearson).")


def test_bare_rates_say_their_interval_is_unknown():
    card = fakes.card()  # recall 0.8, specificity 0.9 without counts
    assert validation_lines(card) == [
        "Sensitivity 80.0% (95% CI unknown, n not recorded)",
        "Specificity 90.0% (95% CI unknown, n not recorded)",
    ]
    assert "Interval unknown" in validation_text(card)
    assert validation_text(fakes.card(validation_metrics={})) == "none stated on the model card"


def test_card_html_has_the_table_and_the_patients_group():
    card = fakes.card(validation_metrics=COUNTED)
    html = card_html(card, "ab" * 32)
    assert "55.5–99.75%" in html and "<th align='left'>Children</th>" in html
    assert "Patient&#x27;s group" not in html  # no patient: no group
    with_case = card_html(card, case=fakes.case(age_months=30, sex="female"))
    assert "Patient&#x27;s group" in with_case
    assert "age 1-3 y (15 children): sensitivity 80.0% (95% CI " in with_case
    assert "sex female: not validated for this group" in with_case  # none recorded: said so
    raw = card_html(fakes.card(name="<b>x</b>", validation_metrics={}))
    assert "&lt;b&gt;x&lt;/b&gt;" in raw  # card text is escaped, never markup
