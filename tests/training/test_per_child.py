"""Validation counted per child, the card's counts and intervals, and the training gate (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dysmorph_desk.bundles.schema import validate_manifest
from dysmorph_desk.training import evaluation as ev
from dysmorph_desk.training.config import TrainConfig
from dysmorph_desk.training.crossval import FoldResult, p_syndromic, summarise
from dysmorph_desk.training.crossval_export import (
    CardText,
    _card_validation,
    _record_validation,
    child_validation_of,
)
from dysmorph_desk.training.data import FaceSet
from dysmorph_desk.training.datasets import Sample
from dysmorph_desk.training.metrics import binary_metrics
from dysmorph_desk.utils.intervals import clopper_pearson
from tests.fakes import card_manifest


def test_each_child_counts_once_however_many_photos_it_has():
    # 3 syndromic children with 4 photos each, 2 controls with 3 photos each
    groups = ["A"] * 4 + ["B"] * 4 + ["C"] * 4 + ["D"] * 3 + ["E"] * 3
    y = [1] * 12 + [0] * 6
    p = [0.9, 0.8, 0.7, 0.9] + [0.2, 0.3, 0.1, 0.2] + [0.9, 0.2, 0.6, 0.5] + [0.1] * 3 + [0.6] * 3
    c = ev.child_counts(y, p, 0.5, groups)
    # A: mean 0.825 -> tp; B: 0.2 -> fn; C: mean 0.55 -> tp; D: 0.1 -> tn; E: 0.6 -> fp
    assert c == {
        "tp": 2,
        "fp": 1,
        "tn": 1,
        "fn": 1,
        "n_children": 5,
        "n_photos": 18,
        "unit": "child",
    }
    photo_counts = binary_metrics(np.array(y), np.array(p), 0.5)  # counted by photo: 18, not 5
    assert photo_counts["tp"] + photo_counts["fn"] == 12 and c["tp"] + c["fn"] == 3
    # the interval follows the children: 1 of 2 controls, not 3 of 6 photos
    rates = ev.rates_with_ci(c)
    assert rates["specificity"] == 0.5
    assert rates["specificity_ci95"] == pytest.approx(list(clopper_pearson(1, 2)))
    assert rates["sensitivity_ci95"] == pytest.approx(list(clopper_pearson(2, 3)))


def test_one_photo_per_child_is_the_per_photo_decision_and_thresholds_may_differ():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = rng.random(200)
    thr = np.where(np.arange(200) < 100, 0.4, 0.6)  # two folds, two thresholds
    c = ev.child_counts(y, p, thr, [f"P{i}" for i in range(200)])
    pred = p >= thr
    assert c["tp"] == int(np.sum((y == 1) & pred)) and c["fp"] == int(np.sum((y == 0) & pred))
    assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == c["n_children"] == 200


def test_subgroups_are_counted_per_child_and_sex_is_normalised():
    groups = ["A", "A", "B", "C", "C", "D"]
    y = [1, 1, 1, 0, 0, 0]
    p = [0.9, 0.7, 0.2, 0.1, 0.3, 0.8]
    ages = ["1-3 y", "1-3 y", "6-12 y", "1-3 y", "3-6 y", None]
    sex = ["F", "female", "M", "girl", "girl", ""]
    sub = ev.child_subgroup_counts(y, p, 0.5, groups, {"age_band": ages, "sex": sex})
    assert sub["age_band"]["1-3 y"]["n_children"] == 2  # A (2 photos) and C (1 of its 2)
    assert sub["age_band"]["1-3 y"]["n_photos"] == 3
    assert sub["age_band"]["3-6 y"]["n_children"] == 1  # C again: its other photo's band
    assert set(sub["sex"]) == {"female", "male"}  # blank left out
    assert sub["sex"]["female"] == {
        "tp": 1,
        "fp": 0,
        "tn": 1,
        "fn": 0,
        "n_children": 2,
        "n_photos": 4,
        "unit": "child",
    }


@pytest.mark.parametrize(
    ("ci", "min_auc", "passed", "words"),
    [
        ((0.32, 0.65), None, False, "includes 0.5"),
        ((0.5, 0.7), None, False, "includes 0.5"),
        ((0.2, 0.45), None, False, "below 0.5"),
        ((0.62, 0.81), 0.7, False, "under --min-auc 0.7"),
        ((0.62, 0.81), None, True, None),
        ((float("nan"), float("nan")), None, False, "could not be computed"),
    ],
)
def test_the_gate(ci, min_auc, passed, words):
    gate = ev.validation_gate(ci, min_auc)
    assert gate.passed is passed
    assert (gate.reason is None) if words is None else (words in gate.reason)


def test_the_gate_on_synthetic_predictions():
    """A model no better than chance fails; a separating one passes (AUC CIs by bootstrap)."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    chance = rng.random(80)
    band = ev.roc_band(y, chance, n_boot=200, seed=0)
    assert not ev.validation_gate(band.auc_ci).passed
    good = np.clip(y * 0.5 + rng.random(80), 0, 1)  # separating, with overlap
    band = ev.roc_band(y, good, n_boot=200, seed=0)
    assert ev.validation_gate(band.auc_ci).passed
    assert band.auc_ci[0] < 0.99 and not ev.validation_gate(band.auc_ci, min_auc=0.99).passed


# --- the card's numbers from fold results --------------------------------------------------------

CLASSES = ["control", "noonan"]


def _faceset(n_children=30, photos=3, seed=0) -> FaceSet:
    rng = np.random.default_rng(seed)
    samples = []
    for c in range(n_children):
        label = CLASSES[c % 2]
        for k in range(photos):
            samples.append(
                Sample(
                    Path(f"{c}-{k}.jpg"),
                    label,
                    f"P{c}",
                    float(rng.integers(0, 200)),
                    ["female", "male"][c % 3 % 2],
                )
            )
    return FaceSet(np.zeros((len(samples), 4, 4, 3), np.uint8), samples, CLASSES, ["noonan"], [])


def _folds(fs: FaceSet, signal: float, k=2, seed=1) -> list[FoldResult]:
    rng = np.random.default_rng(seed)
    y = fs.y
    logits = rng.normal(0, 1, (len(y), 2))
    logits[np.arange(len(y)), y] += signal
    child = np.array([int(g[1:]) for g in fs.groups])
    results = []
    for f in range(k):
        idx = np.flatnonzero(child % k == f)  # grouped: a child's photos in one fold
        m = binary_metrics(fs.is_positive[idx], p_syndromic(logits[idx], 1.0, [1]), 0.5)
        results.append(
            FoldResult(
                f + 1, m, 0.5, 1.0, 1, [], 1.0, 0.01, {"n_test_photos": len(idx)}, idx, logits[idx]
            )
        )
    return results


def _card_metrics(fs, results, min_auc=None):
    cfg = TrainConfig(arch="mobilenetv2", folds=2, n_boot=200)
    metrics, _ = summarise(fs, cfg, results, n_parameters=1)
    said: list[str] = []
    child, gate = _record_validation(
        metrics, fs, results, CardText(min_auc=min_auc), cfg, said.append
    )
    return metrics, _card_validation(metrics, cfg, child, gate), gate, said


def test_the_card_carries_per_child_counts_intervals_and_subgroups():
    fs = _faceset()
    results = _folds(fs, signal=3.0)
    metrics, card_metrics, gate, said = _card_metrics(fs, results)
    counts = card_metrics["counts"]
    assert counts["n_children"] == 30 and counts["n_photos"] == 90 and counts["unit"] == "child"
    assert card_metrics["metrics_unit"] == "photo"
    lo, hi = card_metrics["sensitivity_ci95"]
    k, n = counts["tp"], counts["tp"] + counts["fn"]
    exact = clopper_pearson(k, n)
    assert n == 15 and lo <= exact[0] and hi >= exact[1]  # rounded outwards
    assert set(card_metrics["subgroups"]) == {"age_band", "sex"}
    assert card_metrics["min_children_per_subgroup"] == 10
    assert sum(c["n_photos"] for c in card_metrics["subgroups"]["sex"].values()) == 90
    assert gate.passed and not said and card_metrics["gate"]["passed"] is True
    assert metrics["per_child"]["counts"] == counts
    assert (
        metrics["at_prevalence_per_child"]["ppv_range"][0]
        < metrics["at_prevalence_per_child"]["ppv"]
    )
    card = validate_manifest(card_manifest(card_metrics), "t.ddbundle")  # the schema accepts it
    rates = card.rates()
    assert rates is not None and rates.unit == "child" and rates.sensitivity.n == 15
    assert child_validation_of(fs, results)["counts"] == counts


def test_a_model_no_better_than_chance_is_marked_and_warned_about():
    fs = _faceset()
    results = _folds(fs, signal=0.0)
    metrics, card_metrics, gate, said = _card_metrics(fs, results)
    assert not gate.passed and "includes 0.5" in gate.reason
    assert said and "failed-validation" in said[0] and "--allow-unvalidated" in said[0]
    assert metrics["validation_gate"]["passed"] is False
    card = validate_manifest(card_manifest(card_metrics, "failed-validation"), "t.ddbundle")
    assert "includes 0.5" in card.failed_reason
    _, _, gate, _ = _card_metrics(fs, _folds(fs, signal=3.0), min_auc=0.9999)
    assert not gate.passed and "--min-auc" in gate.reason
