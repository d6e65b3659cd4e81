"""Calibration of the syndromic probability: the reliability table and the expected calibration error.

Temperature scaling is fitted on validation logits; whether it worked is judged here, on held-out
or out-of-fold predictions, with equal-width probability bins. The table feeds the reliability
plot and metrics.json; the ECE is the single number the model card reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dysmorph_desk.training.evaluation._checks import _binary, _round, _scores


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
