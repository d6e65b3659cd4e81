"""Metrics within subgroups (age band, sex, ethnicity) and the mean ± SD of metrics over folds.

A screening aid that works for one age band or one ancestry and fails another must show it, so
metrics are broken down by each attribute the dataset records, with age binned into clinical bands.
The summary over folds ("0.886 ± 0.021") lives here too: like the subgroups, it aggregates
already computed per-group metrics rather than computing a statistic from scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# the bands are defined with the model card, where screening looks up the patient's band
from dysmorph_desk.bundles.cards import AGE_BANDS, age_band
from dysmorph_desk.training.evaluation._checks import _binary, _scores
from dysmorph_desk.training.metrics import METRIC_KEYS, metrics_from_predictions

__all__ = ["AGE_BANDS", "age_band", "subgroup_metrics", "summarise_folds"]
_SUBGROUP_KEYS = ("accuracy", "recall", "specificity", "precision", "f1", "mcc", "kappa", "auc")


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
