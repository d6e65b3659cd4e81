"""Evaluation statistics: checked by hand on tiny examples and against sklearn, never against themselves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import (
    cohen_kappa_score,
    confusion_matrix,
    matthews_corrcoef,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from dysmorph_desk.bundles.cards import predictive_values
from dysmorph_desk.training.evaluation import (
    AGE_BANDS,
    ReaderPoint,
    RocBand,
    age_band,
    at_prevalence,
    bootstrap_auc_ci,
    compare_reader_to_band,
    expected_calibration_error,
    multiclass_metrics,
    reader_points,
    reliability_table,
    roc_band,
    subgroup_metrics,
    summarise_folds,
)
from dysmorph_desk.training.metrics import METRIC_KEYS, binary_metrics, metrics_from_predictions


def _scores(n: int, seed: int, shift: float = 1.0, prevalence: float = 0.4):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    s = rng.normal(shift * y, 1.0)
    return y, s


# --- metrics_from_predictions (factored out of binary_metrics) ---------------------------------


def test_metrics_from_predictions_matches_binary_metrics_and_sklearn():
    y, s = _scores(80, 1)
    p = 1 / (1 + np.exp(-s))
    pred = (p >= 0.6).astype(int)
    assert metrics_from_predictions(y, pred, p) == binary_metrics(y, p, 0.6)
    m = metrics_from_predictions(y, pred)
    assert math.isnan(m["auc"])  # no scores, no AUC
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert m["kappa"] == pytest.approx(cohen_kappa_score(y, pred))


# --- bootstrap AUC CI --------------------------------------------------------------------------


def test_bootstrap_ci_contains_the_point_auc_and_is_deterministic_by_seed():
    y, s = _scores(120, 2)
    auc = roc_auc_score(y, s)
    lo, hi = bootstrap_auc_ci(y, s, n_boot=500, seed=7)
    assert lo < auc < hi
    assert 0.0 <= lo < hi <= 1.0
    assert bootstrap_auc_ci(y, s, n_boot=500, seed=7) == (lo, hi)
    assert bootstrap_auc_ci(y, s, n_boot=500, seed=8) != (lo, hi)


def test_bootstrap_ci_narrows_with_more_data():
    small = bootstrap_auc_ci(*_scores(60, 3), n_boot=300)
    large = bootstrap_auc_ci(*_scores(1500, 3), n_boot=300)
    assert (large[1] - large[0]) < 0.5 * (small[1] - small[0])


def test_bootstrap_ci_agrees_with_an_independent_stratified_bootstrap():
    y, s = _scores(150, 4)
    pos, neg = s[y == 1], s[y == 0]
    # Mann-Whitney by brute force: every positive/negative pair, ties counting one half
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert wins.mean() == pytest.approx(roc_auc_score(y, s))
    rng = np.random.default_rng(12345)
    aucs = [
        wins[rng.integers(0, len(pos), len(pos))][:, rng.integers(0, len(neg), len(neg))].mean()
        for _ in range(2000)
    ]
    ref = np.percentile(aucs, [2.5, 97.5])
    ours = bootstrap_auc_ci(y, s, n_boot=2000, seed=0)
    assert ours == pytest.approx(tuple(ref), abs=0.012)


def test_bootstrap_is_stratified_so_rare_positives_never_vanish():
    y = np.array([1, 1] + [0] * 40)
    s = np.linspace(0, 1, 42)[::-1].copy()
    s[1] = 0.5  # second positive in the middle of the negatives
    lo, hi = bootstrap_auc_ci(y, s, n_boot=300)
    assert math.isfinite(lo) and math.isfinite(hi)  # a plain bootstrap would often draw no positive


def test_bootstrap_refuses_too_few_iterations_and_bad_levels():
    y, s = _scores(40, 5)
    with pytest.raises(ValueError, match="200"):
        bootstrap_auc_ci(y, s, n_boot=199)
    with pytest.raises(ValueError):
        bootstrap_auc_ci(y, s, n_boot=200, level=1.0)
    bootstrap_auc_ci(y, s, n_boot=200)  # the seed study's count is accepted


def test_perfect_separation_gives_a_degenerate_interval_at_one():
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.9])
    assert bootstrap_auc_ci(y, s, n_boot=200) == (1.0, 1.0)


def test_bootstrap_with_one_class_is_nan():
    lo, hi = bootstrap_auc_ci([1, 1, 1], [0.2, 0.5, 0.9], n_boot=200)
    assert math.isnan(lo) and math.isnan(hi)


# --- ROC band ------------------------------------------------------------------------------------


def _max_tpr_at(y, s, g):
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return tpr[fpr <= g + 1e-12].max()


def test_roc_band_curve_matches_sklearn_roc_and_auc():
    y, s = _scores(200, 6)
    s = np.round(s, 1)  # ties
    band = roc_band(y, s, n_boot=300, grid_points=51)
    assert band.auc == pytest.approx(roc_auc_score(y, s))
    assert len(band.fpr_grid) == len(band.tpr) == len(band.tpr_low) == len(band.tpr_high) == 51
    assert band.fpr_grid[0] == 0.0 and band.fpr_grid[-1] == 1.0
    for g, t in zip(band.fpr_grid, band.tpr, strict=False):
        assert t == pytest.approx(_max_tpr_at(y, s, g))
    assert band.tpr[-1] == band.tpr_low[-1] == band.tpr_high[-1] == 1.0


def test_roc_band_shares_resamples_with_the_auc_ci():
    y, s = _scores(100, 7)
    band = roc_band(y, s, n_boot=250, seed=3)
    assert band.auc_ci == bootstrap_auc_ci(y, s, n_boot=250, seed=3)
    assert band.auc_ci[0] < band.auc < band.auc_ci[1]
    assert band.n_boot == 250 and band.level == 0.95


def test_roc_band_edges_are_monotone_and_mostly_bracket_the_curve():
    y, s = _scores(300, 8)
    band = roc_band(y, s, n_boot=400)
    low, tpr, high = map(np.asarray, (band.tpr_low, band.tpr, band.tpr_high))
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) >= 0)
    assert np.all(low <= high)
    assert np.all((low >= 0) & (high <= 1))
    # the empirical curve is the centre of its own bootstrap distribution: inside nearly everywhere
    assert np.mean((low <= tpr) & (tpr <= high)) >= 0.9
    # away from the corners the band has width
    assert np.all((high - low)[10:90] > 0)


def test_roc_band_at_fpr_zero_for_perfect_and_imperfect_ranking():
    y = np.array([0, 0, 0, 1, 1, 1])
    perfect = roc_band(y, [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], n_boot=200)
    assert perfect.tpr[0] == 1.0 and perfect.tpr_low[0] == 1.0
    # highest score is a negative: no positive is found before a false positive
    flipped = roc_band(y, [0.95, 0.2, 0.3, 0.7, 0.8, 0.9], n_boot=200, grid_points=4)
    assert flipped.tpr[0] == 0.0
    assert flipped.tpr == pytest.approx([0.0, 1.0, 1.0, 1.0])  # one FP (1/3) reaches every positive


def test_roc_band_to_dict_is_json_with_rounded_values():
    y, s = _scores(80, 9)
    band = roc_band(y, s, n_boot=200, grid_points=11)
    d = json.loads(json.dumps(band.to_dict()))
    assert set(d) == {"fpr_grid", "tpr", "tpr_low", "tpr_high", "auc", "auc_ci", "n_boot", "level"}
    assert d["fpr_grid"][3] == 0.3 and len(d["tpr"]) == 11
    assert d["auc"] == round(band.auc, 4) and d["auc_ci"] == [round(v, 4) for v in band.auc_ci]
    assert all(v == round(v, 4) for v in d["tpr_low"] + d["tpr_high"])


def test_roc_band_needs_both_classes():
    with pytest.raises(ValueError, match="one syndromic and one"):
        roc_band([0, 0, 0], [0.1, 0.2, 0.3], n_boot=200)
    with pytest.raises(ValueError):
        roc_band([0, 1], [0.1, 0.2], n_boot=50)


# --- calibration -----------------------------------------------------------------------------------


def test_ece_hand_examples():
    y80 = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(y80, np.full(10, 0.8)) == pytest.approx(0.0)
    y50 = np.array([1] * 5 + [0] * 5)
    assert expected_calibration_error(y50, np.full(10, 0.9)) == pytest.approx(0.4)
    # two bins, each half the data: |0.1 - 0.5| / 2 + |0.9 - 1.0| / 2
    assert expected_calibration_error([0, 1, 1, 1], [0.1, 0.1, 0.9, 0.9]) == pytest.approx(0.25)
    # the same data in a single bin: |mean p 0.5 - rate 0.75|
    assert expected_calibration_error(
        [0, 1, 1, 1], [0.1, 0.1, 0.9, 0.9], n_bins=1
    ) == pytest.approx(0.25)


def test_reliability_table_bins_counts_and_edges():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.0, 0.05, 0.25, 0.35, 1.0, 0.95])
    t = reliability_table(y, p, n_bins=4)
    assert t.edges == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert t.counts == [2, 2, 0, 2]  # 0.25 opens the second bin; p = 1 falls in the last
    assert t.mean_p[0] == pytest.approx(0.025) and t.observed_rate[0] == 0.0
    assert t.mean_p[1] == pytest.approx(0.30) and t.observed_rate[1] == 1.0
    assert math.isnan(t.mean_p[2]) and math.isnan(t.observed_rate[2])
    assert t.mean_p[3] == pytest.approx(0.975) and t.observed_rate[3] == 0.5
    expected = (2 * 0.025 + 2 * 0.70 + 2 * 0.475) / 6
    assert t.ece == pytest.approx(expected)
    d = t.to_dict()
    assert d["counts"] == [2, 2, 0, 2] and math.isnan(d["mean_p"][2])
    with pytest.raises(ValueError):
        reliability_table([0, 1], [0.5, 1.2])


# --- multiclass --------------------------------------------------------------------------------------


def _softmax_probs(n, k, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.2
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def test_multiclass_metrics_match_sklearn():
    y, probs = _softmax_probs(120, 4, 10)
    ids = ["down", "williams", "noonan", "control"]
    m = multiclass_metrics(y, probs, ids)
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(y, pred, labels=range(4))
    assert m["confusion_matrix"] == cm.tolist()
    assert m["accuracy"] == pytest.approx(np.mean(pred == y)) and m["n"] == 120
    prec, rec, f1, support = precision_recall_fscore_support(
        y, pred, labels=range(4), zero_division=0
    )
    aucs = roc_auc_score(y, probs, multi_class="ovr", average=None)
    for k, cid in enumerate(ids):
        c = m["per_class"][cid]
        assert c["precision"] == pytest.approx(prec[k]) and c["recall"] == pytest.approx(rec[k])
        assert c["f1"] == pytest.approx(f1[k]) and c["support"] == support[k]
        assert c["auc"] == pytest.approx(aucs[k])
        tn = cm.sum() - cm[k].sum() - cm[:, k].sum() + cm[k, k]
        assert c["specificity"] == pytest.approx(tn / (cm.sum() - cm[k].sum()))
    macro = precision_recall_fscore_support(
        y, pred, labels=range(4), average="macro", zero_division=0
    )
    assert m["macro"]["precision"] == pytest.approx(macro[0])
    assert m["macro"]["recall"] == pytest.approx(macro[1])
    assert m["macro"]["auc"] == pytest.approx(
        roc_auc_score(y, probs, multi_class="ovr", average="macro")
    )
    json.dumps(m)


def test_multiclass_metrics_with_an_absent_class_and_string_labels():
    ids = ["a", "b", "c"]
    y = ["a", "a", "b", "b", "a"]  # no "c" at all
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.6, 0.3, 0.1]]
    )
    m = multiclass_metrics(y, probs, ids)
    # predictions: a, c, b, a, a
    assert m["confusion_matrix"] == [[2, 0, 1], [1, 1, 0], [0, 0, 0]]
    assert math.isnan(m["per_class"]["c"]["auc"]) and m["per_class"]["c"]["support"] == 0
    assert m["per_class"]["c"]["specificity"] == pytest.approx(4 / 5)
    assert m["macro"]["auc"] == pytest.approx(
        np.mean([m["per_class"]["a"]["auc"], m["per_class"]["b"]["auc"]])
    )
    assert m["per_class"]["a"]["precision"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="unknown"):
        multiclass_metrics(["a", "z"], probs[:2], ids)
    with pytest.raises(ValueError):
        multiclass_metrics([0, 1], probs[:2, :2], ids)


def test_multiclass_metrics_with_two_classes_agree_with_binary_metrics():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 60)
    p1 = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0.01, 0.99)
    probs = np.column_stack([1 - p1, p1])
    m = multiclass_metrics(y, probs, ["control", "syndromic"])
    b = binary_metrics(y, p1, 0.5 + 1e-12)  # argmax picks class 0 on an exact tie
    s = m["per_class"]["syndromic"]
    assert s["recall"] == pytest.approx(b["recall"]) and s["specificity"] == pytest.approx(
        b["specificity"]
    )
    assert s["auc"] == pytest.approx(b["auc"]) and m["accuracy"] == pytest.approx(b["accuracy"])
    assert m["per_class"]["control"]["recall"] == pytest.approx(b["specificity"])


# --- subgroups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("months", "band"),
    [
        (0, "<1 y"),
        (11.99, "<1 y"),
        (12, "1-3 y"),
        (35.9, "1-3 y"),
        (36, "3-6 y"),
        (71.5, "3-6 y"),
        (72, "6-12 y"),
        (143.99, "6-12 y"),
        (144, "≥12 y"),
        (216, "≥12 y"),
        (None, None),
        (float("nan"), None),
    ],
)
def test_age_band_boundaries(months, band):
    assert age_band(months) == band


def test_age_band_rejects_negative_ages():
    assert AGE_BANDS == ("<1 y", "1-3 y", "3-6 y", "6-12 y", "≥12 y")
    with pytest.raises(ValueError):
        age_band(-1)


def test_subgroup_metrics_by_hand():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.3, 0.6, 0.8, 0.2, 0.1, 0.7])
    # predictions from per-fold thresholds: not p >= any single threshold (0.4 -> 1 but 0.6 -> 0)
    pred = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    sex = ["F", "F", "F", "F", "M", "M", "M", None]
    ages = [age_band(a) for a in (5, 30, 40, 13, 150, 160, 12, 100)]
    blank = [None, "", " ", float("nan")] * 2  # missing however a CSV or data frame spells it
    out = subgroup_metrics(y, p, pred, {"sex": sex, "age_band": ages, "ethnicity": blank})
    assert set(out) == {"sex", "age_band"}  # no values at all: left out
    f = out["sex"]["F"]
    # F: y 1,1,0,0  pred 1,1,0,0 -> tp 2, tn 2
    assert (f["n"], f["n_positive"], f["tp"], f["fp"], f["fn"], f["tn"]) == (4, 2, 2, 0, 0, 2)
    assert f["accuracy"] == 1.0 and f["recall"] == 1.0 and f["specificity"] == 1.0
    assert f["auc"] == pytest.approx(roc_auc_score([1, 1, 0, 0], [0.9, 0.4, 0.3, 0.6]))  # 0.75
    m = out["sex"]["M"]
    # M: y 1,0,0  pred 1,1,0 -> tp 1, fp 1, tn 1; the None sample is left out
    assert (m["n"], m["n_positive"], m["tp"], m["fp"], m["fn"], m["tn"]) == (3, 1, 1, 1, 0, 1)
    assert m["precision"] == pytest.approx(0.5) and m["specificity"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(2 / 3) and m["auc"] == pytest.approx(1.0)
    assert m["mcc"] == pytest.approx(matthews_corrcoef([1, 0, 0], [1, 1, 0]))
    assert m["kappa"] == pytest.approx(cohen_kappa_score([1, 0, 0], [1, 1, 0]))
    bands = out["age_band"]
    assert list(bands) == [
        "<1 y",
        "1-3 y",
        "3-6 y",
        "6-12 y",
        "≥12 y",
    ]  # clinical order, not alphabetical
    assert bands["1-3 y"]["n"] == 3  # 30, 13 and exactly 12 months
    assert bands["<1 y"]["n"] == 1 and math.isnan(bands["<1 y"]["auc"])  # one class only
    with pytest.raises(ValueError):
        subgroup_metrics(y, p, pred, {"sex": sex[:-1]})
    # boolean arrays (as callers hold them) are accepted for labels and predictions
    again = subgroup_metrics(y.astype(bool), p, pred.astype(bool), {"sex": sex})
    assert again["sex"]["M"]["tp"] == 1 and again["sex"]["F"]["tn"] == 2


# --- folds ---------------------------------------------------------------------------------------------


def test_summarise_folds_mean_and_sample_sd():
    folds = [
        {"accuracy": 0.8, "auc": 0.90, "recall": 0.7},
        {"accuracy": 0.9, "auc": float("nan"), "recall": 0.8},
        {"accuracy": 0.85, "auc": 0.94, "recall": float("nan")},
        {"accuracy": 0.95, "auc": 0.96},
    ]
    mean, sd = summarise_folds(folds, keys=("accuracy", "auc", "recall", "kappa"))
    acc = np.array([0.8, 0.9, 0.85, 0.95])
    assert mean["accuracy"] == pytest.approx(acc.mean()) and sd["accuracy"] == pytest.approx(
        np.std(acc, ddof=1)
    )
    assert mean["auc"] == pytest.approx(np.mean([0.90, 0.94, 0.96]))
    assert sd["auc"] == pytest.approx(np.std([0.90, 0.94, 0.96], ddof=1))
    assert mean["recall"] == pytest.approx(0.75) and sd["recall"] == pytest.approx(
        np.std([0.7, 0.8], ddof=1)
    )
    assert math.isnan(mean["kappa"]) and math.isnan(sd["kappa"])  # missing everywhere


def test_summarise_folds_edge_cases():
    mean, sd = summarise_folds([{"auc": float("nan")}, {"auc": float("nan")}], keys=("auc",))
    assert math.isnan(mean["auc"]) and math.isnan(sd["auc"])
    mean, sd = summarise_folds([{"accuracy": 0.7}], keys=("accuracy",))
    assert mean["accuracy"] == 0.7 and math.isnan(sd["accuracy"])  # one fold: no sample SD
    mean, sd = summarise_folds([{k: 0.5 for k in METRIC_KEYS}] * 3)
    assert set(mean) == set(sd) == set(METRIC_KEYS) and all(v == 0.0 for v in sd.values())


# --- readers -------------------------------------------------------------------------------------------


def test_reader_points_by_hand():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    calls = {
        "SP": np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 0]),  # tp 3 fn 1, fp 1 tn 5
        "JP": np.array([1, 0, np.nan, 0, 1, 1, 0, np.nan, 0, 0]),  # two photos not rated
    }
    sp, jp = reader_points(y, calls)
    assert sp == ReaderPoint("SP", 10, 0.75, 5 / 6, 3, 1, 1, 5)
    assert sp.fpr == pytest.approx(1 / 6)
    assert (jp.n, jp.tp, jp.fn, jp.fp, jp.tn) == (8, 1, 2, 2, 3)
    assert jp.sensitivity == pytest.approx(1 / 3) and jp.specificity == pytest.approx(3 / 5)
    with pytest.raises(ValueError):
        reader_points(y, {"X": np.array([1, 0])})
    with pytest.raises(ValueError):
        reader_points(y, {"X": np.full(10, 2)})


def _hand_band() -> RocBand:
    grid = np.linspace(0, 1, 11)
    return RocBand(
        fpr_grid=list(grid),
        tpr=list(np.clip(grid + 0.5, 0, 1)),
        tpr_low=list(np.clip(grid + 0.4, 0, 1)),
        tpr_high=list(np.clip(grid + 0.6, 0, 1)),
        auc=0.85,
        auc_ci=(0.8, 0.9),
        n_boot=200,
        level=0.95,
    )


def _point(sens: float, spec: float) -> ReaderPoint:
    return ReaderPoint("R", 100, sens, spec, 0, 0, 0, 0)


def test_compare_reader_to_a_known_band_interpolates_linearly():
    band = _hand_band()
    # at FPR 0.05 (between grid points) the band runs from 0.45 to 0.65
    assert compare_reader_to_band(_point(0.66, 0.95), band) == "above"
    assert compare_reader_to_band(_point(0.64, 0.95), band) == "inside"
    assert compare_reader_to_band(_point(0.46, 0.95), band) == "inside"
    assert compare_reader_to_band(_point(0.44, 0.95), band) == "below"
    assert compare_reader_to_band(_point(0.95, 0.5), band) == "inside"  # band tops out at 1 there
    with pytest.raises(ValueError):
        compare_reader_to_band(_point(float("nan"), 0.9), band)


def test_readers_far_from_a_real_band_are_classified():
    y, s = _scores(400, 12, shift=2.0)
    band = roc_band(y, s, n_boot=300)
    rng = np.random.default_rng(0)
    coin = (rng.random(len(y)) < 0.5).astype(int)
    mediocre = reader_points(y, {"coin": coin, "oracle": y})
    assert compare_reader_to_band(mediocre[0], band) == "below"  # chance-level reader: model better
    assert (
        compare_reader_to_band(mediocre[1], band) == "above"
    )  # perfect reader beats an AUC ~0.9 model
    # the model's own operating point lies inside its band
    t = 1.0
    own = reader_points(y, {"model": (s >= t).astype(int)})[0]
    assert compare_reader_to_band(own, band) == "inside"


# --- prevalence ------------------------------------------------------------------------------------------


def test_at_prevalence_by_bayes_rule():
    d = at_prevalence(0.9, 0.8, 0.1)
    assert d["ppv"] == pytest.approx(0.09 / (0.09 + 0.18))
    assert d["npv"] == pytest.approx(0.72 / (0.72 + 0.01))
    assert (d["ppv"], d["npv"]) == pytest.approx(predictive_values(0.9, 0.8, 0.1))
    assert d["prevalence"] == 0.1 and d["sensitivity"] == 0.9 and d["specificity"] == 0.8
    with pytest.raises(ValueError):
        at_prevalence(0.9, 0.8, 1.5)


def test_patient_level_bootstrap_is_not_fooled_by_several_photos_of_one_child():
    from dysmorph_desk.training.evaluation import bootstrap_auc_ci, roc_band

    rng = np.random.default_rng(3)
    n_children = 40
    y_child = np.array([0, 1] * (n_children // 2))
    score_child = rng.normal(y_child * 1.0, 1.0)
    # five near-identical photos per child: photo-level resampling pretends there are 200 children
    y = np.repeat(y_child, 5)
    s = np.repeat(score_child, 5) + rng.normal(0, 0.01, 5 * n_children)
    groups = np.repeat([f"C{i}" for i in range(n_children)], 5)
    lo_p, hi_p = bootstrap_auc_ci(y, s, n_boot=400, seed=0)
    lo_c, hi_c = bootstrap_auc_ci(y, s, n_boot=400, seed=0, groups=groups)
    assert (hi_c - lo_c) > 1.6 * (hi_p - lo_p)
    # one photo per child: the cluster bootstrap is the photo bootstrap
    one = bootstrap_auc_ci(y_child, score_child, n_boot=300, seed=1)
    same = bootstrap_auc_ci(
        y_child, score_child, n_boot=300, seed=1, groups=[f"C{i}" for i in range(n_children)]
    )
    assert one[1] - one[0] == pytest.approx(same[1] - same[0], rel=0.25)
    band = roc_band(y, s, n_boot=300, seed=0, groups=groups)
    assert band.auc_ci == pytest.approx(bootstrap_auc_ci(y, s, n_boot=300, seed=0, groups=groups))
