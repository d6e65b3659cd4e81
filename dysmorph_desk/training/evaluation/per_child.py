"""Validation counted per child, exact intervals, and the gate a trained model must pass.

Photos of one child are not independent: 159 negative photos of 53 children carry the evidence of
53 children, and an interval computed from 159 is too narrow by a factor of about √3. So the counts
a card carries, and every interval shown to a clinician, count each child once:

* **Who is a child:** the patient id of the training data (``patient_id`` in the CSV; without it
  every photo is its own child; ids that share a byte-identical photo are merged, as for the
  splits: ``training/data.py``). The grouped splits keep a child's photos in one fold, so each child
  is tested once, at one fold's threshold.
* **The child's label:** syndromic when any of its photos is labelled syndromic (a child's photos
  share one label in consistent data).
* **The child's prediction:** the mean of its photos' syndromic probabilities (each at its fold's
  temperature) is at or above the threshold of the fold that tested it (the mean of the
  thresholds, should its photos ever have been tested at different ones). For one photo this is the
  per-photo decision.

Subgroups (age band, sex) use the same rule on the child's photos in that group; a child whose
photos fall in two age bands counts in both. Intervals are exact (Clopper–Pearson).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dysmorph_desk.bundles.cards import MIN_CHILDREN_PER_SUBGROUP, normalise_sex
from dysmorph_desk.training.evaluation._checks import _binary, _scores
from dysmorph_desk.utils.intervals import clopper_pearson

CHILD_RULE = (
    "each child counted once: syndromic if any of its photos is; predicted syndromic when the mean "
    "of its photos' syndromic probabilities is at or above the threshold of the fold that tested it"
)


def child_counts(
    y_true_binary: Any,
    p: Any,
    threshold: float | Sequence[float] | np.ndarray,
    groups: Sequence[str],
) -> dict[str, Any]:
    """Confusion counts with each child counted once (the rule in the module's docstring).

    Args:
        y_true_binary: per photo, 1 = syndromic.
        p: per photo, the syndromic probability.
        threshold: one threshold, or one per photo (its fold's).
        groups: per photo, the child (patient id).

    Returns:
        ``{"tp", "fp", "tn", "fn", "n_children", "n_photos", "unit": "child"}``.
    """
    y = _binary(y_true_binary, "y_true_binary")
    prob = _scores(p, len(y), "p")
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), prob.shape)
    if len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} values for {len(y)} photos")
    index: dict[str, int] = {}
    child = np.array([index.setdefault(str(g), len(index)) for g in groups], dtype=int)
    n = len(index)
    photos = np.bincount(child, minlength=n)
    label = np.bincount(child, weights=y.astype(np.float64), minlength=n) > 0
    mean_p = np.bincount(child, weights=prob, minlength=n) / np.maximum(photos, 1)
    mean_t = np.bincount(child, weights=thr, minlength=n) / np.maximum(photos, 1)
    predicted = mean_p >= mean_t
    return {
        "tp": int(np.sum(label & predicted)),
        "fp": int(np.sum(~label & predicted)),
        "tn": int(np.sum(~label & ~predicted)),
        "fn": int(np.sum(label & ~predicted)),
        "n_children": n,
        "n_photos": len(y),
        "unit": "child",
    }


def rates_with_ci(counts: Mapping[str, Any], digits: int | None = None) -> dict[str, Any]:
    """Sensitivity and specificity of ``counts`` with exact 95 % intervals (nan when undefined)."""

    def one(k: int, n: int) -> tuple[float, list[float]]:
        lo, hi = clopper_pearson(k, n)
        value = k / n if n else float("nan")
        if digits is None:
            return value, [lo, hi]
        # the interval is rounded outwards, so the card never claims more than was shown
        scale = 10.0**digits
        return round(value, digits), [math.floor(lo * scale) / scale, math.ceil(hi * scale) / scale]

    sens, sens_ci = one(counts["tp"], counts["tp"] + counts["fn"])
    spec, spec_ci = one(counts["tn"], counts["tn"] + counts["fp"])
    return {
        "sensitivity": sens,
        "sensitivity_ci95": sens_ci,
        "specificity": spec,
        "specificity_ci95": spec_ci,
    }


def child_subgroup_counts(
    y_true_binary: Any,
    p: Any,
    threshold: float | Sequence[float] | np.ndarray,
    groups: Sequence[str],
    attributes: Mapping[str, Sequence[str | None]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per-child counts within each value of each attribute (``{attribute: {value: counts}}``).

    Photos without a value are left out, and so are attributes with none; ``sex`` values are
    normalised (F, girl -> female; M, boy -> male) so that screening finds the patient's group.
    """
    y = _binary(y_true_binary, "y_true_binary")
    prob = _scores(p, len(y), "p")
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), prob.shape)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, raw in attributes.items():
        values = list(raw)
        if len(values) != len(y):
            raise ValueError(f"attribute {name!r} has {len(values)} values for {len(y)} photos")
        if name == "sex":
            values = [normalise_sex(v) for v in values]
        values = [
            None if v is None or (isinstance(v, str) and not v.strip()) else v for v in values
        ]
        present = list(dict.fromkeys(str(v) for v in values if v is not None))
        if not present:
            continue
        table: dict[str, dict[str, Any]] = {}
        for value in sorted(present):
            mask = np.array([v is not None and str(v) == value for v in values])
            table[value] = child_counts(
                y[mask], prob[mask], thr[mask], [g for g, m in zip(groups, mask, strict=True) if m]
            )
        out[name] = table
    return out


@dataclass(frozen=True)
class GateResult:
    """Whether a trained model may be exported as usable, and why not."""

    passed: bool
    reason: str | None
    auc_ci95: tuple[float, float]
    min_auc: float | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["auc_ci95"] = [None if math.isnan(v) else v for v in self.auc_ci95]
        return d


def validation_gate(auc_ci95: Sequence[float], min_auc: float | None = None) -> GateResult:
    """Fail a model whose AUC's 95 % CI includes 0.5 (no better than chance) or whose lower bound
    is under ``min_auc`` (``train --min-auc``; None: no such floor).

    Example:
        >>> validation_gate([0.32, 0.65]).reason
        'the AUC 95% CI 0.32-0.65 includes 0.5 (no better than chance)'
    """
    lo, hi = (float(v) if v is not None else float("nan") for v in auc_ci95)
    ci = (lo, hi)
    if math.isnan(lo) or math.isnan(hi):
        return GateResult(False, "the AUC 95% CI could not be computed", ci, min_auc)
    shown = f"{lo:.2f}-{hi:.2f}"
    if lo <= 0.5 <= hi:
        return GateResult(
            False, f"the AUC 95% CI {shown} includes 0.5 (no better than chance)", ci, min_auc
        )
    if hi < 0.5:
        return GateResult(
            False, f"the AUC 95% CI {shown} lies below 0.5 (worse than chance)", ci, min_auc
        )
    if min_auc is not None and lo < min_auc:
        return GateResult(
            False, f"the AUC 95% CI {shown} starts under --min-auc {min_auc:g}", ci, min_auc
        )
    return GateResult(True, None, ci, min_auc)


def child_validation(
    y_true_binary: Any,
    p: Any,
    threshold: float | Sequence[float] | np.ndarray,
    groups: Sequence[str],
    attributes: Mapping[str, Sequence[str | None]] | None = None,
    *,
    min_children: int = MIN_CHILDREN_PER_SUBGROUP,
) -> dict[str, Any]:
    """Everything per child a card and metrics.json carry: counts, rates, intervals, subgroups."""
    counts = child_counts(y_true_binary, p, threshold, groups)
    return {
        "counts": counts,
        **rates_with_ci(counts),
        "rule": CHILD_RULE,
        "subgroups": child_subgroup_counts(y_true_binary, p, threshold, groups, attributes or {}),
        "min_children_per_subgroup": min_children,
    }
