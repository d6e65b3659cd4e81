"""Input checks and number formatting shared by the evaluation statistics.

Every statistic in this package takes labels and scores from a caller (the CLI, cross-validation,
a reader study file) and must refuse malformed input with one clear message rather than return a
plausible-looking number. The checks live here, apart from the statistics, so that each statistic's
module states only its method, and so that the bootstrap limits (``MIN_BOOT``) are defined once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIN_BOOT = 200  # the seed study used 200 pROC iterations; fewer gives unstable percentile tails


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
