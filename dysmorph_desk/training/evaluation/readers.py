"""Physicians' (readers') calls as points in ROC space, judged against the model's ROC band.

The seed study's comparison: each reader's sensitivity/specificity is one point, and a point
outside the model's 95 % bootstrap band (``roc.roc_band``) differs significantly from the model.
Readers may skip photos; an unrated photo is left out of that reader's counts only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dysmorph_desk.training.evaluation._checks import _binary
from dysmorph_desk.training.evaluation.roc import RocBand


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
