"""Predictive values at a clinic's prevalence rather than the study's case mix.

Training and validation sets are enriched with syndromic children, so the PPV measured on them
overstates what a clinic would see; sensitivity and specificity carry over, and this module turns
them into the PPV and NPV at the prevalence the user gives (``--prevalence``) — with their ranges
over the 95 % intervals of sensitivity and specificity, when those are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dysmorph_desk.bundles.cards import predictive_values
from dysmorph_desk.utils.intervals import predictive_value_range


def at_prevalence(
    sensitivity: float,
    specificity: float,
    prevalence: float,
    *,
    sensitivity_ci95: Sequence[float] | None = None,
    specificity_ci95: Sequence[float] | None = None,
) -> dict[str, Any]:
    """PPV and NPV at a clinic's prevalence, since the study's case mix overstates the PPV.

    With both intervals, ``ppv_range`` and ``npv_range`` give the values from their lower and
    their upper bounds (both rise with sensitivity and specificity).
    """
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must lie in [0, 1], not {prevalence}")
    ppv, npv = predictive_values(sensitivity, specificity, prevalence)
    out: dict[str, Any] = {
        "prevalence": float(prevalence),
        "sensitivity": float(sensitivity),
        "specificity": float(specificity),
        "ppv": float(ppv),
        "npv": float(npv),
    }
    if sensitivity_ci95 is not None and specificity_ci95 is not None:
        s_lo, s_hi = (float(v) for v in sensitivity_ci95)
        p_lo, p_hi = (float(v) for v in specificity_ci95)
        ranges = predictive_value_range((s_lo, s_hi), (p_lo, p_hi), prevalence)
        out["ppv_range"], out["npv_range"] = list(ranges["ppv"]), list(ranges["npv"])
    return out
