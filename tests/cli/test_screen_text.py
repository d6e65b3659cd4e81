"""The terminal's per-model line: every class of a two-class model, the top few of a many-class one."""

from __future__ import annotations

from dysmorph_desk.cli.screen_text import class_probabilities_text
from dysmorph_desk.report.formatting import SHOWN_CLASSES


def test_a_two_class_model_lists_both_in_card_order():
    names = {"control": "Control", "syndromic_like": "Syndromic-like"}
    text = class_probabilities_text({"control": 0.7, "syndromic_like": 0.3}, names)
    assert text == "Control 0.70, Syndromic-like 0.30"


def test_a_many_class_model_shows_the_most_probable_and_how_many_more():
    probs = {f"S{i:02d}": p for i, p in enumerate([0.01] * 17 + [0.05, 0.4, 0.3, 0.2])}
    names = {c: f"Syndrome {c}" for c in probs}
    text = class_probabilities_text(probs, names)
    assert text.startswith("Syndrome S18 0.40, Syndrome S19 0.30, Syndrome S20 0.20")
    assert f"the top {SHOWN_CLASSES} of 21 classes" in text and "S00" not in text


def test_shown_classes_is_shared_with_the_app():
    """The app's results panel draws bars for exactly ``shown_classes`` (one rule, two places)."""
    from dysmorph_desk.report.formatting import shown_classes

    two = {"control": 0.2, "syndromic_like": 0.8}
    assert shown_classes(two) == list(two.items())
    many = {f"c{i}": i / 100 for i in range(21)}
    assert shown_classes(many) == [("c20", 0.2), ("c19", 0.19), ("c18", 0.18)]
