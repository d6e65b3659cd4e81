"""Predictive values at a clinic's prevalence rather than the study's case mix.

Training and validation sets are enriched with syndromic children, so the PPV measured on them
overstates what a clinic would see; sensitivity and specificity carry over, and this module turns
them into the PPV and NPV at the prevalence the user gives (``--prevalence``).
"""

from __future__ import annotations

from dysmorph_desk.bundles.cards import predictive_values


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
