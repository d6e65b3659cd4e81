"""Cross-validation results: each fold's outcome, the pooled out-of-fold predictions, metrics.json.

A fold's result (``FoldResult``) is what the fold runner saves and reloads when a run resumes;
pooling every photo's prediction from the fold that tested it gives the numbers the seeds
reported (mean ± SD over folds, the AUC's bootstrap CI, the ROC band, calibration, subgroups).
This is kept apart from running the folds so that the statistics can be recomputed, and tested,
from saved fold results without torch or a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dysmorph_desk.training.config import TrainConfig
from dysmorph_desk.training.data import FaceSet
from dysmorph_desk.training.loop import softmax
from dysmorph_desk.training.metrics import METRIC_KEYS


@dataclass
class FoldResult:
    index: int
    metrics: dict[str, Any]
    threshold: float
    temperature: float
    best_epoch: int
    history: list[dict[str, float]]
    runtime_train_s: float
    runtime_test_s_per_image: float
    sizes: dict[str, int]
    test_idx: np.ndarray
    test_logits: np.ndarray
    multiclass: dict[str, Any] = field(
        default_factory=dict
    )  # one-vs-rest per class + macro, this fold

    def summary(self) -> dict[str, Any]:
        d = {k: self.metrics[k] for k in METRIC_KEYS}
        d.update({k: self.metrics[k] for k in ("tp", "fp", "fn", "tn")})
        d.update(
            {
                "fold": self.index,
                "threshold": self.threshold,
                "temperature": self.temperature,
                "best_epoch": self.best_epoch,
                "runtime_train_s": self.runtime_train_s,
                "runtime_test_s_per_image": self.runtime_test_s_per_image,
                **self.sizes,
                "history": self.history,
                "multiclass": self.multiclass,
            }
        )
        return d


def p_syndromic(logits: np.ndarray, temperature: float, positive_idx: list[int]) -> np.ndarray:
    return softmax(logits, temperature)[:, positive_idx].sum(1)


def pooled_out_of_fold(fs: FaceSet, results: list[FoldResult]) -> dict[str, np.ndarray]:
    """Every photo's prediction from the fold that tested it (fold temperature and threshold)."""
    n, c = len(fs.samples), len(fs.classes)
    logits = np.full((n, c), np.nan)
    probs = np.full((n, c), np.nan)
    predicted = np.zeros(n, dtype=bool)
    fold = np.zeros(n, dtype=int)
    for r in results:
        logits[r.test_idx] = r.test_logits
        probs[r.test_idx] = softmax(r.test_logits, r.temperature)
        predicted[r.test_idx] = probs[r.test_idx][:, fs.positive_idx].sum(1) >= r.threshold
        fold[r.test_idx] = r.index
    return {
        "logits": logits,
        "probs": probs,
        "p": probs[:, fs.positive_idx].sum(1),
        "predicted": predicted,
        "fold": fold,
    }


def tested_only(oof: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The photos some fold tested (all of them in k-fold; the test part under holdout)."""
    idx = np.flatnonzero(oof["fold"] > 0)
    return {"index": idx, **{k: v[idx] for k, v in oof.items()}}


def summarise(
    fs: FaceSet, cfg: TrainConfig, results: list[FoldResult], n_parameters: int
) -> tuple[dict, Any]:
    """metrics.json's numbers (without the final model) and the ROC band for the plot."""
    from dysmorph_desk.training import evaluation as ev
    from dysmorph_desk.training.metrics import metrics_from_predictions

    oof = tested_only(pooled_out_of_fold(fs, results))  # every photo, except under holdout
    tested = oof["index"]
    is_pos = fs.is_positive[tested]
    folds = [r.summary() for r in results]
    mean, std = ev.summarise_folds([r.metrics for r in results])
    tested_groups = [fs.groups[i] for i in tested]
    by_patient = len(set(tested_groups)) < len(
        tested_groups
    )  # several photos of a child: resample children
    band = ev.roc_band(
        is_pos,
        oof["p"],
        n_boot=cfg.n_boot,
        seed=cfg.seed,
        groups=tested_groups if by_patient else None,
    )
    pooled = metrics_from_predictions(is_pos, oof["predicted"], oof["p"])
    raw_p = softmax(oof["logits"])[:, fs.positive_idx].sum(1)
    samples = [fs.samples[i] for i in tested]
    attributes = {
        "age_band": [ev.age_band(s.age_months) for s in samples],
        "sex": [s.sex for s in samples],
        "ethnicity": [s.ethnicity for s in samples],
    }
    metrics = {
        "arch": cfg.arch,
        "protocol": protocol_text(cfg),
        "classes": fs.classes,
        "positive": fs.positive,
        "n_photos": len(fs.samples),
        "n_patients": len(set(fs.groups)),
        "n_tested_photos": len(samples),  # all of them, except under holdout (its test part)
        "patients_per_class": fs.patients_per_class(),
        "folds": folds,
        "mean": {k: mean[k] for k in METRIC_KEYS},
        "std": {k: std[k] for k in METRIC_KEYS},
        "auc_ci95": list(band.auc_ci),
        "auc_ci95_method": (
            f"{'patient' if by_patient else 'photo'}-level stratified bootstrap of the pooled "
            f"out-of-fold predictions, {band.n_boot} resamples"
        ),
        "pooled": pooled,
        "multiclass": ev.multiclass_metrics(fs.y[tested], oof["probs"], fs.classes),
        "multiclass_folds": _multiclass_over_folds(results),
        "calibration": {
            "ece_uncalibrated": ev.expected_calibration_error(is_pos, raw_p),
            "ece_calibrated": ev.expected_calibration_error(is_pos, oof["p"]),
            "reliability": ev.reliability_table(is_pos, oof["p"]).to_dict(),
        },
        "subgroups": ev.subgroup_metrics(is_pos, oof["p"], oof["predicted"], attributes),
        "at_prevalence": ev.at_prevalence(pooled["recall"], pooled["specificity"], cfg.prevalence),
        "roc": band.to_dict(),
        "runtime_train_s": float(sum(r.runtime_train_s for r in results)),
        "runtime_test_s_per_image": float(np.mean([r.runtime_test_s_per_image for r in results])),
        "n_parameters": n_parameters,
    }
    return metrics, band


def _multiclass_over_folds(results: list[FoldResult]) -> dict[str, Any]:
    """Mean and SD over folds of the top-1 accuracy and the macro one-vs-rest metrics."""
    from dysmorph_desk.training.evaluation import summarise_folds

    rows = [
        {"accuracy": r.multiclass["accuracy"], **r.multiclass["macro"]}
        for r in results
        if r.multiclass
    ]
    if not rows:
        return {}
    keys = tuple(rows[0])
    mean, std = summarise_folds(rows, keys)
    return {"mean": mean, "std": std}


def protocol_text(cfg: TrainConfig) -> str:
    if cfg.protocol == "holdout":
        return "one patient-grouped stratified train/validation/test split 3:1:1; metrics on the test part"
    if cfg.protocol == "3:1:1":
        return (
            f"{cfg.folds}-fold patient-grouped stratified cross-validation, train/validation/test "
            f"{cfg.folds - 2}:1:1 per fold (seed 003)"
        )
    return (
        f"{cfg.folds}-fold patient-grouped stratified cross-validation, inner validation "
        f"{cfg.val_fraction:.0%} of each training part"
    )
