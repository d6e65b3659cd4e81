"""Statistics for cross-validation and evaluation: bootstrap CIs, ROC bands, calibration, subgroups.

Follows the seed study (VGG-16 vs paediatricians): a ROC curve with a 95 % band from a stratified
bootstrap (pROC's default: positives and negatives are resampled separately, so every resample
keeps the study's class balance), and each physician's sensitivity/specificity point judged
against that band. Everything here is numpy only (sklearn for AUC through ``metrics``), with no Qt
and no torch, so reports and the CLI can use it cheaply.

Results are plain floats, ints and lists; an undefined value is ``float('nan')`` and the caller
decides how to serialise it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dysmorph_desk.bundles.cards import predictive_values
from dysmorph_desk.training.metrics import METRIC_KEYS, metrics_from_predictions

MIN_BOOT = 200  # the seed study used 200 pROC iterations; fewer gives unstable percentile tails
AGE_BANDS = ("<1 y", "1-3 y", "3-6 y", "6-12 y", "≥12 y")
_AGE_EDGES = (12.0, 36.0, 72.0, 144.0)  # months; a band includes its lower edge
_PER_CLASS_KEYS = ("precision", "recall", "specificity", "f1", "auc")
_SUBGROUP_KEYS = ("accuracy", "recall", "specificity", "precision", "f1", "mcc", "kappa", "auc")


# ---------------------------------------------------------------------------------------------
# input checks


def _binary(y: Any, name: str = "y_true") -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold 0/1 (1 = syndromic)")
    return arr.astype(np.int64)


def _scores(s: Any, n: int, name: str = "scores") -> np.ndarray:
    arr = np.asarray(s, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have one value per sample ({n}), not shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, not {level}")


def _check_boot(n_boot: int) -> None:
    if n_boot < MIN_BOOT:
        raise ValueError(
            f"n_boot must be at least {MIN_BOOT} (the seed study used 200), not {n_boot}"
        )


def _percentiles(level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    return 100.0 * tail, 100.0 * (1.0 - tail)


def _round(x: float, digits: int = 4) -> float:
    x = float(x)
    return x if math.isnan(x) else round(x, digits)


# ---------------------------------------------------------------------------------------------
# ROC and the stratified bootstrap


class _RocData:
    """Scores ranked once so that each bootstrap resample costs O(n) (counts per distinct score)."""

    def __init__(self, y: np.ndarray, s: np.ndarray, groups: Sequence[str] | None = None) -> None:
        uniq, inverse = np.unique(s, return_inverse=True)  # ascending distinct scores
        rank = (len(uniq) - 1 - inverse).astype(np.int64)  # 0 = highest score (first threshold)
        self.n_thr = len(uniq)
        self.pos_rank = rank[y == 1]
        self.neg_rank = rank[y == 0]
        # with patient ids: each patient's photos (positions within pos_rank / neg_rank)
        self.pos_clusters = self.neg_clusters = None
        if groups is not None:
            g = np.asarray([str(v) for v in groups])
            self.pos_clusters = _clusters(g[y == 1])
            self.neg_clusters = _clusters(g[y == 0])

    def curve(
        self, pos_idx: np.ndarray | None = None, neg_idx: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(fpr, tpr) at each distinct threshold, (0, 0) to (1, 1); resampled when indices given."""
        pr = self.pos_rank if pos_idx is None else self.pos_rank[pos_idx]
        nr = self.neg_rank if neg_idx is None else self.neg_rank[neg_idx]
        tp = np.cumsum(np.bincount(pr, minlength=self.n_thr))
        fp = np.cumsum(np.bincount(nr, minlength=self.n_thr))
        tpr = np.concatenate(([0.0], tp / len(pr)))
        fpr = np.concatenate(([0.0], fp / len(nr)))
        return fpr, tpr

    def resamples(self, n_boot: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stratified bootstrap: positives and negatives drawn with replacement, each separately;
        with patient ids, whole patients are drawn (all their photos together)."""
        rng = np.random.default_rng(seed)
        n_pos, n_neg = len(self.pos_rank), len(self.neg_rank)
        for _ in range(n_boot):
            if self.pos_clusters is None:
                yield rng.integers(0, n_pos, n_pos), rng.integers(0, n_neg, n_neg)
            else:
                yield _draw_clusters(self.pos_clusters, rng), _draw_clusters(self.neg_clusters, rng)


def _clusters(groups: np.ndarray) -> list[np.ndarray]:
    _, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)


def _draw_clusters(clusters: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, len(clusters), len(clusters))
    return np.concatenate([clusters[i] for i in picks])


def _auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    # trapezoids over every distinct threshold = Mann-Whitney AUC with ties counted as 1/2
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def _on_grid(fpr: np.ndarray, tpr: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The highest TPR reached at an FPR <= each grid value (fpr and tpr are non-decreasing)."""
    idx = np.searchsorted(fpr, grid + 1e-12, side="right") - 1  # tolerance: 3/10 vs linspace 0.3
    return tpr[np.clip(idx, 0, len(tpr) - 1)]


def _prepare(y_true: Any, scores: Any, groups: Sequence[str] | None = None) -> _RocData | None:
    y = _binary(y_true)
    s = _scores(scores, len(y))
    if groups is not None and len(groups) != len(y):
        raise ValueError("groups must give one patient id per sample")
    if not 0 < y.sum() < len(y):
        return None
    return _RocData(y, s, groups)


def bootstrap_auc_ci(
    y_true: Any,
    scores: Any,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    groups: Sequence[str] | None = None,
) -> tuple[float, float]:
    """Percentile CI of the ROC AUC from a stratified bootstrap (as pROC's ``ci.auc`` default).

    Deterministic for a seed, and the same resamples as ``roc_band`` with that seed, so the
    interval printed in a table matches the one in the figure. (nan, nan) when a class is absent.
    """
    _check_boot(n_boot)
    _check_level(level)
    data = _prepare(y_true, scores, groups)
    if data is None:
        return float("nan"), float("nan")
    aucs = np.array([_auc(*data.curve(pi, ni)) for pi, ni in data.resamples(n_boot, seed)])
    lo, hi = np.percentile(aucs, _percentiles(level))
    return float(lo), float(hi)


@dataclass
class RocBand:
    """An empirical ROC curve on a fixed FPR grid with a pointwise bootstrap percentile band."""

    fpr_grid: list[float]
    tpr: list[float]
    tpr_low: list[float]
    tpr_high: list[float]
    auc: float
    auc_ci: tuple[float, float]
    n_boot: int
    level: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "fpr_grid": [_round(v) for v in self.fpr_grid],
            "tpr": [_round(v) for v in self.tpr],
            "tpr_low": [_round(v) for v in self.tpr_low],
            "tpr_high": [_round(v) for v in self.tpr_high],
            "auc": _round(self.auc),
            "auc_ci": [_round(v) for v in self.auc_ci],
            "n_boot": int(self.n_boot),
            "level": float(self.level),
        }


def roc_band(
    y_true: Any,
    scores: Any,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    grid_points: int = 101,
    groups: Sequence[str] | None = None,
) -> RocBand:
    """ROC with a pointwise 95 % band, to judge readers' points against (seed study, Fig. 4).

    At each grid FPR the curve is the highest TPR reached at an FPR no larger than it (a
    threshold the model can actually use); the band is the percentile interval of that TPR over
    stratified bootstrap resamples (whole patients when ``groups`` gives their ids, so several
    photos of one child do not narrow the band). Both band edges are non-decreasing. Needs both
    classes.
    """
    _check_boot(n_boot)
    _check_level(level)
    if grid_points < 2:
        raise ValueError("grid_points must be at least 2")
    data = _prepare(y_true, scores, groups)
    if data is None:
        raise ValueError("a ROC curve needs at least one syndromic and one non-syndromic sample")
    grid = np.linspace(0.0, 1.0, grid_points)
    fpr, tpr = data.curve()
    boot_tpr = np.empty((n_boot, grid_points))
    aucs = np.empty(n_boot)
    for b, (pi, ni) in enumerate(data.resamples(n_boot, seed)):
        bf, bt = data.curve(pi, ni)
        boot_tpr[b] = _on_grid(bf, bt, grid)
        aucs[b] = _auc(bf, bt)
    q = _percentiles(level)
    low, high = np.percentile(boot_tpr, q, axis=0)
    auc_lo, auc_hi = np.percentile(aucs, q)
    return RocBand(
        fpr_grid=[float(v) for v in grid],
        tpr=[float(v) for v in _on_grid(fpr, tpr, grid)],
        tpr_low=[float(v) for v in low],
        tpr_high=[float(v) for v in high],
        auc=_auc(fpr, tpr),
        auc_ci=(float(auc_lo), float(auc_hi)),
        n_boot=int(n_boot),
        level=float(level),
    )


# ---------------------------------------------------------------------------------------------
# calibration


@dataclass
class ReliabilityTable:
    """Per-bin calibration of the syndromic probability (equal-width bins on [0, 1])."""

    edges: list[float]  # n_bins + 1 bin edges
    counts: list[int]
    mean_p: list[float]  # nan for an empty bin
    observed_rate: list[float]  # fraction syndromic in the bin; nan for an empty bin
    ece: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": [_round(v) for v in self.edges],
            "counts": [int(c) for c in self.counts],
            "mean_p": [_round(v) for v in self.mean_p],
            "observed_rate": [_round(v) for v in self.observed_rate],
            "ece": _round(self.ece),
        }


def reliability_table(y_true_binary: Any, p: Any, n_bins: int = 10) -> ReliabilityTable:
    """Counts, mean predicted probability and observed syndromic rate per bin (for a plot / JSON).

    Bins are [k/n, (k+1)/n) with p = 1 in the last bin. The ECE is the count-weighted mean of
    |mean p - observed rate| over the bins; nan for no samples.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    y = _binary(y_true_binary, "y_true_binary")
    prob = _scores(p, len(y), "p")
    if ((prob < 0) | (prob > 1)).any():
        raise ValueError("p must be probabilities in [0, 1]")
    bins = np.minimum((prob * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    sum_p = np.bincount(bins, weights=prob, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(counts > 0, sum_p / counts, np.nan)
        rate = np.where(counts > 0, sum_y / counts, np.nan)
    used = counts > 0
    gaps = counts[used] * np.abs(mean_p[used] - rate[used])
    ece = float(np.sum(gaps) / len(y)) if len(y) else float("nan")
    return ReliabilityTable(
        edges=[float(v) for v in np.linspace(0.0, 1.0, n_bins + 1)],
        counts=[int(c) for c in counts],
        mean_p=[float(v) for v in mean_p],
        observed_rate=[float(v) for v in rate],
        ece=ece,
    )


def expected_calibration_error(y_true_binary: Any, p: Any, n_bins: int = 10) -> float:
    """Count-weighted |mean predicted - observed| syndromic rate over equal-width bins."""
    return reliability_table(y_true_binary, p, n_bins).ece


# ---------------------------------------------------------------------------------------------
# multiclass


def multiclass_metrics(y: Any, probs: Any, class_ids: Sequence[str]) -> dict[str, Any]:
    """Top-1 accuracy, confusion matrix and one-vs-rest metrics per class, with macro averages.

    ``y`` holds class indices (or class ids); the prediction is the argmax of ``probs`` (N, C).
    Returns ``{"n", "accuracy", "class_ids", "confusion_matrix" (rows true, columns predicted),
    "per_class": {id: {"support", "precision", "recall", "specificity", "f1", "auc"}},
    "macro": {"precision", "recall", "specificity", "f1", "auc"}}``. Zero denominators give 0.0
    (as sklearn's ``zero_division=0``); a class's AUC is nan when it is absent (or is every
    sample), and macro AUC averages the defined ones.
    """
    class_ids = [str(c) for c in class_ids]
    n_cls = len(class_ids)
    if n_cls < 2:
        raise ValueError("multiclass_metrics needs at least two classes")
    pr = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(y)
    if labels.ndim != 1 or pr.shape != (len(labels), n_cls):
        raise ValueError(f"probs must have shape (len(y), {n_cls}), not {pr.shape}")
    if labels.dtype.kind in "USO":
        index = {c: i for i, c in enumerate(class_ids)}
        unknown = sorted({str(v) for v in labels if str(v) not in index})
        if unknown:
            raise ValueError(f"unknown class ids in y: {', '.join(unknown)}")
        labels = np.array([index[str(v)] for v in labels], dtype=np.int64)
    else:
        labels = labels.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= n_cls):
            raise ValueError(f"class indices in y must lie in 0..{n_cls - 1}")
    pred = pr.argmax(axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    cm = np.zeros((n_cls, n_cls), dtype=np.int64)
    np.add.at(cm, (labels, pred), 1)
    per_class: dict[str, dict[str, Any]] = {}
    for k, cid in enumerate(class_ids):
        m = metrics_from_predictions(labels == k, pred == k, pr[:, k])
        per_class[cid] = {
            "support": int(np.sum(labels == k)),
            **{key: m[key] for key in _PER_CLASS_KEYS},
        }
    macro = {}
    for key in _PER_CLASS_KEYS:
        values = [per_class[c][key] for c in class_ids if not math.isnan(per_class[c][key])]
        macro[key] = float(np.mean(values)) if values else float("nan")
    n = len(labels)
    return {
        "n": n,
        "accuracy": float(np.trace(cm) / n) if n else float("nan"),
        "class_ids": class_ids,
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "macro": macro,
    }


# ---------------------------------------------------------------------------------------------
# subgroups


def age_band(age_months: float | None) -> str | None:
    """Age band for subgroup tables: <1 y, 1-3 y, 3-6 y, 6-12 y, ≥12 y (lower edges inclusive)."""
    if age_months is None or math.isnan(float(age_months)):
        return None
    age = float(age_months)
    if age < 0:
        raise ValueError(f"age in months cannot be negative ({age_months})")
    return AGE_BANDS[int(np.searchsorted(_AGE_EDGES, age, side="right"))]


def _missing(value: Any) -> bool:
    """None, an empty string (a blank CSV cell) or a float nan (a blank pandas cell)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _value_order(value: Any) -> tuple[int, str]:
    return (AGE_BANDS.index(value), "") if value in AGE_BANDS else (len(AGE_BANDS), str(value))


def subgroup_metrics(
    y_true_binary: Any,
    p: Any,
    predicted_binary: Any,
    attributes: Mapping[str, Sequence[str | None]],
) -> dict[str, dict[str, dict]]:
    """Metrics within each value of each attribute (age band, sex, ethnicity, ...).

    Predictions are passed in rather than a threshold because in pooled cross-validation each fold
    has its own threshold. ``{attribute: {value: {"n", "n_positive", "accuracy", "recall",
    "specificity", "precision", "f1", "mcc", "kappa", "auc", "tp", "fp", "fn", "tn"}}}``; samples
    whose value is missing (None, a blank string or nan) are left out, and so are attributes with
    no values at all. Age bands come in clinical order, other values sorted. AUC is nan in a
    subgroup holding one class only.
    """
    y = _binary(y_true_binary, "y_true_binary")
    prob = _scores(p, len(y), "p")
    pred = _binary(predicted_binary, "predicted_binary")
    if len(pred) != len(y):
        raise ValueError("predicted_binary must have one value per sample")
    out: dict[str, dict[str, dict]] = {}
    for name, values in attributes.items():
        values = list(values)
        if len(values) != len(y):
            raise ValueError(f"attribute {name!r} has {len(values)} values for {len(y)} samples")
        values = [None if _missing(v) else v for v in values]
        present = sorted({v for v in values if v is not None}, key=_value_order)
        if not present:
            continue
        groups: dict[str, dict] = {}
        for value in present:
            mask = np.array([v == value for v in values])
            m = metrics_from_predictions(y[mask], pred[mask], prob[mask])
            groups[value] = {
                "n": int(mask.sum()),
                "n_positive": int(y[mask].sum()),
                **{k: m[k] for k in _SUBGROUP_KEYS},
                **{k: int(m[k]) for k in ("tp", "fp", "fn", "tn")},
            }
        out[name] = groups
    return out


# ---------------------------------------------------------------------------------------------
# folds


def summarise_folds(
    fold_metrics: Sequence[Mapping[str, Any]], keys: Sequence[str] = METRIC_KEYS
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample SD (ddof=1) of each metric across folds, as reported "0.886 ± 0.021".

    nan values (e.g. AUC of a one-class fold) and missing keys are skipped per key; a key with no
    value stays nan, and the SD is nan with fewer than two values.
    """
    mean: dict[str, float] = {}
    sd: dict[str, float] = {}
    for key in keys:
        raw = [m.get(key) for m in fold_metrics]
        values = np.array([float(v) for v in raw if v is not None and not math.isnan(float(v))])
        mean[key] = float(values.mean()) if len(values) else float("nan")
        sd[key] = float(values.std(ddof=1)) if len(values) >= 2 else float("nan")
    return mean, sd


# ---------------------------------------------------------------------------------------------
# readers


@dataclass
class ReaderPoint:
    """One physician's (or other reader's) calls reduced to a point in ROC space."""

    reader: str
    n: int
    sensitivity: float
    specificity: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def fpr(self) -> float:
        return 1.0 - self.specificity

    def to_dict(self) -> dict[str, Any]:
        return {
            "reader": self.reader,
            "n": self.n,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
        }


def reader_points(
    y_true_binary: Any, calls_binary_by_reader: Mapping[str, Any]
) -> list[ReaderPoint]:
    """Sensitivity/specificity of each reader's binary calls (1 = syndromic).

    A nan call means the reader did not rate that photo; it is left out of that reader's counts.
    Sensitivity or specificity is nan when the reader rated no photo of that class.
    """
    y = _binary(y_true_binary, "y_true_binary")
    points = []
    for reader, calls in calls_binary_by_reader.items():
        c = np.asarray(calls, dtype=np.float64)
        if c.shape != y.shape:
            raise ValueError(f"reader {reader!r} has {c.size} calls for {len(y)} photos")
        rated = ~np.isnan(c)
        if not np.isin(c[rated], (0.0, 1.0)).all():
            raise ValueError(f"reader {reader!r}: calls must be 0/1 (or nan for not rated)")
        yt, yc = y[rated].astype(bool), c[rated].astype(bool)
        tp, fp = int(np.sum(yt & yc)), int(np.sum(~yt & yc))
        fn, tn = int(np.sum(yt & ~yc)), int(np.sum(~yt & ~yc))
        points.append(
            ReaderPoint(
                reader=str(reader),
                n=int(rated.sum()),
                sensitivity=tp / (tp + fn) if tp + fn else float("nan"),
                specificity=tn / (tn + fp) if tn + fp else float("nan"),
                tp=tp,
                fp=fp,
                fn=fn,
                tn=tn,
            )
        )
    return points


def compare_reader_to_band(point: ReaderPoint, band: RocBand) -> str:
    """ "above" (reader better than the model), "below" (model better) or "inside" the band.

    The seed study's criterion: a reader's point outside the model's 95 % ROC band differs
    significantly. The band edges are interpolated linearly at the reader's FPR.
    """
    if math.isnan(point.sensitivity) or math.isnan(point.specificity):
        raise ValueError(f"reader {point.reader!r} has no sensitivity/specificity to compare")
    fpr = 1.0 - point.specificity
    high = float(np.interp(fpr, band.fpr_grid, band.tpr_high))
    low = float(np.interp(fpr, band.fpr_grid, band.tpr_low))
    if point.sensitivity > high:
        return "above"
    if point.sensitivity < low:
        return "below"
    return "inside"


# ---------------------------------------------------------------------------------------------
# prevalence


def at_prevalence(sensitivity: float, specificity: float, prevalence: float) -> dict[str, float]:
    """PPV and NPV at a clinic's prevalence, since the study's case mix overstates the PPV."""
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must lie in [0, 1], not {prevalence}")
    ppv, npv = predictive_values(sensitivity, specificity, prevalence)
    return {
        "prevalence": float(prevalence),
        "sensitivity": float(sensitivity),
        "specificity": float(specificity),
        "ppv": float(ppv),
        "npv": float(npv),
    }
