"""ROC curves with a stratified bootstrap: the AUC's percentile CI and a pointwise ROC band.

Follows the seed study (VGG-16 vs paediatricians): a ROC curve with a 95 % band from a stratified
bootstrap (pROC's default: positives and negatives are resampled separately, so every resample
keeps the study's class balance), or whole patients when their ids are given. Scores are ranked
once so that each resample costs O(n); the CI and the band use the same resamples for a seed, so
the interval printed in a table matches the one in the figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dysmorph_desk.training.evaluation._checks import (
    _binary,
    _check_boot,
    _check_level,
    _percentiles,
    _round,
    _scores,
)


class _RocData:
    """Scores ranked once so that each bootstrap resample costs O(n) (counts per distinct score)."""

    def __init__(self, y: np.ndarray, s: np.ndarray, groups: Sequence[str] | None = None) -> None:
        uniq, inverse = np.unique(s, return_inverse=True)  # ascending distinct scores
        rank = (len(uniq) - 1 - inverse).astype(np.int64)  # 0 = highest score (first threshold)
        self.n_thr = len(uniq)
        self.pos_rank = rank[y == 1]
        self.neg_rank = rank[y == 0]
        # with patient ids: each patient's photos (positions within pos_rank / neg_rank)
        self.pos_clusters: list[np.ndarray] | None = None
        self.neg_clusters: list[np.ndarray] | None = None
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
        pos_clusters, neg_clusters = self.pos_clusters, self.neg_clusters
        for _ in range(n_boot):
            if pos_clusters is None or neg_clusters is None:  # both set together, or neither
                yield rng.integers(0, n_pos, n_pos), rng.integers(0, n_neg, n_neg)
            else:
                yield _draw_clusters(pos_clusters, rng), _draw_clusters(neg_clusters, rng)


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
