"""The card's per-child validation: what the schema accepts and refuses, and what a card reports."""

from __future__ import annotations

import copy
import math

import pytest

from dysmorph_desk.bundles.cards import (
    INTERVAL_UNKNOWN,
    MIN_CHILDREN_PER_SUBGROUP,
    age_band,
    normalise_sex,
    validation_json,
)
from dysmorph_desk.bundles.schema import validate_manifest
from dysmorph_desk.errors import BundleError
from dysmorph_desk.utils.intervals import clopper_pearson, predictive_value_range
from tests.fakes import card_manifest


def _counts(tp, fp, tn, fn, photos=None):
    n = tp + fp + tn + fn
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "n_children": n,
        "n_photos": n * 3 if photos is None else photos,
        "unit": "child",
    }


METRICS = {
    "metrics_unit": "photo",
    "recall": 0.9874,
    "specificity": 1.0,
    "auc": 0.9995,
    "auc_ci95": [0.99, 1.0],
    "counts": _counts(52, 0, 53, 1),
    "sensitivity_ci95": [0.8993, 0.9996],
    "specificity_ci95": [0.9327, 1.0],
    "subgroups": {
        "age_band": {"6-12 y": _counts(10, 1, 11, 0), "1-3 y": _counts(2, 0, 3, 0)},
        "sex": {"female": _counts(20, 0, 25, 1)},
    },
    "min_children_per_subgroup": 10,
}


def _manifest(metrics=None, status="research") -> dict:
    return card_manifest(copy.deepcopy(METRICS if metrics is None else metrics), status)


def _with(path: str, value) -> dict:
    m = copy.deepcopy(METRICS)
    *parents, last = path.split(".")
    node = m
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return m


_DELETE = object()


def test_a_card_with_per_child_counts_is_accepted_and_rated_per_child():
    card = validate_manifest(_manifest(), "t.ddbundle")
    rates = card.rates()
    assert rates is not None and rates.unit == "child" and not rates.interval_unknown
    assert rates.n_children == 106 and rates.n_photos == 318
    assert rates.sensitivity.value == pytest.approx(52 / 53) and rates.sensitivity.n == 53
    assert rates.specificity.value == 1.0 and rates.specificity.n == 53
    assert rates.specificity.ci95 == pytest.approx(clopper_pearson(53, 53))
    ranges = card.predictive_value_ranges(0.01)
    want = predictive_value_range(clopper_pearson(52, 53), clopper_pearson(53, 53), 0.01)
    assert ranges is not None
    assert ranges["ppv"] == pytest.approx(want["ppv"]) and ranges["npv"] == pytest.approx(
        want["npv"]
    )
    assert 0.1 < ranges["ppv"][0] < 0.14 and ranges["ppv"][1] == 1.0


def test_an_older_card_keeps_its_values_with_the_interval_unknown():
    old = {"recall": 0.9874, "specificity": 1.0, "tp": 157, "fp": 0, "tn": 159, "fn": 2}
    card = validate_manifest(_manifest(old), "t.ddbundle")
    rates = card.rates()
    assert rates is not None and rates.interval_unknown and rates.unit is None
    assert rates.specificity.value == 1.0 and rates.specificity.n is None
    assert rates.specificity.ci95 is None
    assert card.predictive_value_ranges(0.01) is None
    doc = validation_json(card, assessable=True)
    assert doc["interval"] == "unknown (n not recorded)" and doc["ppv_range"] is None
    assert "n not recorded" in INTERVAL_UNKNOWN
    assert validate_manifest(_manifest({"auc": 0.9}), "t").rates() is None


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("counts.tp", -1, "non-negative integer"),
        ("counts.fp", True, "non-negative integer"),
        ("counts.tn", 1.5, "non-negative integer"),
        ("counts.n_photos", _DELETE, "non-negative integer"),
        ("counts.unit", "photo", "must be 'child'"),
        ("counts.n_children", 105, "add up to n_children"),
        ("counts.n_photos", 100, "at least n_children"),
        ("counts", [1, 2], "must be an object"),
        ("sensitivity_ci95", [0.99, 0.9], "low <= high"),
        ("sensitivity_ci95", [0.9, 1.2], "low <= high"),
        ("specificity_ci95", [0.5], "[low, high]"),
        ("specificity_ci95", [0.5, 0.9], "must contain the rate"),
        ("auc_ci95", [0.9, 0.8], "low <= high"),
        ("subgroups.sex.female.tp", 99, "add up to n_children"),
        ("subgroups.sex", [], "must be an object"),
        ("min_children_per_subgroup", 0, "positive integer"),
    ],
)
def test_bad_validation_fields_are_refused_naming_the_field(path, value, words):
    with pytest.raises(BundleError) as err:
        validate_manifest(_manifest(_with(path, value)), "t.ddbundle")
    message = str(err.value)
    assert words in message and "validation_metrics." in message and "\n" not in message


def test_subgroups_for_the_patient():
    card = validate_manifest(_manifest(), "t.ddbundle")
    subs = card.subgroup_rates(96, "female")
    age, sex = subs["age_band"], subs["sex"]
    assert age is not None and age.group == "6-12 y" and age.validated and age.n_children == 22
    assert age.sensitivity is not None and age.sensitivity.n == 10
    assert age.specificity is not None and age.specificity.ci95 == pytest.approx(
        clopper_pearson(11, 12)
    )
    assert sex is not None and sex.validated and sex.note is None
    small = card.subgroup_rates(24, "male")
    assert small["age_band"] is not None and not small["age_band"].validated
    assert small["age_band"].sensitivity is None
    assert small["age_band"].note == "not validated for this group (5 children; at least 10 needed)"
    assert small["sex"] is not None and small["sex"].note.startswith("not validated")
    assert small["sex"].n_children == 0  # no boys at all
    assert card.subgroup_rates(None, "unknown") == {"age_band": None, "sex": None}
    none = validate_manifest(_manifest({"recall": 0.9, "specificity": 0.9}), "t")
    entry = none.subgroup_rates(96, "female")["age_band"]
    assert entry is not None and entry.note == "subgroups not recorded on the model card"
    assert entry.minimum == MIN_CHILDREN_PER_SUBGROUP


def test_bands_and_sexes():
    assert [age_band(m) for m in (0, 11.9, 12, 35, 36, 71, 72, 143, 144, 500)] == [
        "<1 y",
        "<1 y",
        "1-3 y",
        "1-3 y",
        "3-6 y",
        "3-6 y",
        "6-12 y",
        "6-12 y",
        "≥12 y",
        "≥12 y",
    ]
    assert age_band(None) is None and age_band(math.nan) is None
    with pytest.raises(ValueError):
        age_band(-1)
    assert [normalise_sex(v) for v in ("F", " Girl ", "m", "BOY", "", "unknown", None, "x")] == [
        "female",
        "female",
        "male",
        "male",
        None,
        None,
        None,
        "x",
    ]


def test_validation_json_and_a_failed_card():
    card = validate_manifest(
        _manifest(
            _with("gate", {"passed": False, "reason": "the AUC 95% CI 0.32-0.65 includes 0.5"}),
            status="failed-validation",
        ),
        "t.ddbundle",
    )
    doc = validation_json(card, assessable=True, prevalence=0.02, age_months=96, sex="female")
    assert doc["sensitivity"]["n"] == 53 and doc["sensitivity"]["ci95"][1] < 1
    assert doc["specificity"]["value"] == 1.0 and doc["specificity"]["ci95"][1] == 1.0
    assert doc["prevalence"] == 0.02 and doc["ppv_range"][0] < doc["ppv_range"][1] == 1.0
    assert doc["subgroup"]["age_band"]["validated"] is True
    assert "includes 0.5" in doc["warning"] and "includes 0.5" in card.failed_reason
    unassessed = validation_json(card, assessable=False)
    assert unassessed["ppv_range"] is None and unassessed["npv_range"] is None
    assert unassessed["subgroup"] == {"age_band": None, "sex": None}
