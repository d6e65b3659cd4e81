"""Pooling folds without training: several syndromes (seed 001), pooled metrics, tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dysmorph_desk.training.config import TrainConfig
from dysmorph_desk.training.crossval import FoldResult, p_syndromic, pooled_out_of_fold, summarise
from dysmorph_desk.training.data import FaceSet
from dysmorph_desk.training.datasets import Sample
from dysmorph_desk.training.metrics import METRIC_KEYS, binary_metrics
from dysmorph_desk.training.tables import compare_table, cv_table

CLASSES = ["alagille", "control", "noonan", "williams"]


def _faceset(n=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.choice(CLASSES, n, p=[0.1, 0.5, 0.2, 0.2])
    samples = [
        Sample(
            Path(f"{i}.jpg"),
            str(lab),
            f"P{i // 2}",
            float(rng.integers(0, 200)),
            ["female", "male"][i % 2],
            None,
        )
        for i, lab in enumerate(labels)
    ]
    # a child's two photos share the label of the first
    for i in range(1, n, 2):
        samples[i] = Sample(
            samples[i].path,
            samples[i - 1].label,
            samples[i].patient_id,
            samples[i].age_months,
            samples[i].sex,
            None,
        )
    return FaceSet(
        np.zeros((n, 4, 4, 3), np.uint8), samples, CLASSES, ["alagille", "noonan", "williams"], []
    )


def _folds(fs: FaceSet, k=3, seed=1):
    rng = np.random.default_rng(seed)
    y = fs.y
    logits = rng.normal(0, 1, (len(y), len(CLASSES)))
    logits[np.arange(len(y)), y] += 1.5  # informative but imperfect
    results = []
    for f in range(k):
        idx = np.arange(f, len(y), k)
        t, thr = 1.0 + f * 0.2, 0.5
        m = binary_metrics(fs.is_positive[idx], p_syndromic(logits[idx], t, fs.positive_idx), thr)
        results.append(
            FoldResult(
                f + 1,
                m,
                thr,
                t,
                2,
                [{"epoch": 1, "train_loss": 1.0}],
                10.0,
                0.01,
                {"n_test_photos": len(idx)},
                idx,
                logits[idx],
            )
        )
    return results


def test_pooled_predictions_use_each_folds_temperature_and_threshold():
    fs = _faceset()
    results = _folds(fs)
    oof = pooled_out_of_fold(fs, results)
    for r in results:
        p = p_syndromic(r.test_logits, r.temperature, fs.positive_idx)
        assert np.allclose(oof["p"][r.test_idx], p)
        assert (oof["predicted"][r.test_idx] == (p >= r.threshold)).all()
    assert (oof["fold"] > 0).all()


def test_summary_of_several_syndromes_has_per_class_and_pooled_numbers():
    fs = _faceset()
    results = _folds(fs)
    cfg = TrainConfig(arch="iresnet100_cosface", folds=3, n_boot=200, prevalence=0.02)
    m, _band = summarise(fs, cfg, results, n_parameters=123)
    vals = {k: [r.metrics[k] for r in results] for k in METRIC_KEYS}
    for k in METRIC_KEYS:
        assert m["mean"][k] == pytest.approx(np.mean(vals[k])) and m["std"][k] == pytest.approx(
            np.std(vals[k], ddof=1)
        )
    oof = pooled_out_of_fold(fs, results)
    assert m["pooled"]["auc"] == pytest.approx(roc_auc_score(fs.is_positive, oof["p"]))
    lo, hi = m["auc_ci95"]
    assert lo <= m["pooled"]["auc"] <= hi
    mc = m["multiclass"]
    assert set(mc["per_class"]) == set(CLASSES) and np.array(mc["confusion_matrix"]).sum() == len(
        fs.samples
    )
    assert mc["accuracy"] == pytest.approx(np.mean(oof["probs"].argmax(1) == fs.y))
    assert set(m["subgroups"]) == {"age_band", "sex"}  # no ethnicity in the data: left out
    assert sum(g["n"] for g in m["subgroups"]["sex"].values()) == len(fs.samples)
    sens, spec, prev = m["pooled"]["recall"], m["pooled"]["specificity"], 0.02
    assert m["at_prevalence"]["ppv"] == pytest.approx(
        sens * prev / (sens * prev + (1 - spec) * (1 - prev))
    )
    assert m["calibration"]["ece_calibrated"] >= 0
    table = cv_table({**m, "status": "research"})
    assert (
        "| noonan |" in table
        and "**macro**" in table
        and "| age_band | <1 y |" in table.replace("  ", " ")
    )
    assert table.count("\n| 1 |") == 1 and "Mean ± SD" in table
    both = compare_table([m, {**m, "arch": "iresnet100_arcface"}])
    assert "| iresnet100_cosface |" in both and "| iresnet100_arcface |" in both
