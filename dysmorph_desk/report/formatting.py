"""How numbers, percentages, ages, dates and model-card metrics are printed on the report.

Pure string formatting with no reportlab import, so it can be tested (and reused) on its own.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from dysmorph_desk.bundles.cards import predictive_values


def num(value: float, digits: int = 3) -> str:
    """A number without trailing zeros: 0.5, 0.853, 12."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_percent(fraction: float) -> str:
    """Percentages as printed on the report: one decimal, more significant digits when tiny."""
    if math.isnan(fraction):
        return "n/a"
    pct = fraction * 100.0
    if pct == 0 or abs(pct) >= 0.1:
        return f"{pct:.1f}%"
    return f"{pct:.2g}%"


def format_predictive_values(sensitivity: float, specificity: float, prevalence: float) -> str:
    """The PPV/NPV sentence printed, e.g. ``PPV 3.1% / NPV 99.9% at a prevalence of 1.0%``."""
    ppv, npv = predictive_values(sensitivity, specificity, prevalence)
    return (
        f"PPV {format_percent(ppv)} / NPV {format_percent(npv)} "
        f"at a prevalence of {format_percent(prevalence)}"
    )


def age_text(months: float | None) -> str:
    """The patient's age, e.g. ``30 months (2 y 6 m)``."""
    if months is None:
        return "not stated"
    whole = int(months)
    years, rem = divmod(whole, 12)
    shown = num(float(months), 1)
    return f"{shown} months ({years} y {rem} m)"


def age_range_text(
    age_range: tuple[float, float] | None, patient_months: float | None
) -> tuple[str, bool]:
    """The validated age range and whether the patient falls outside it."""
    if age_range is None:
        return "not stated", False
    lo, hi = age_range
    text = f"{num(float(lo), 1)}–{num(float(hi), 1)} months ({int(lo) // 12}–{int(hi) // 12} years)"
    outside = patient_months is not None and not (lo <= patient_months <= hi)
    return text, outside


def date_text(created: str) -> str:
    """An ISO timestamp to the minute, with its UTC offset when it has one."""
    try:
        moment = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return str(created)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC%z")


_ACRONYMS = {
    "auc": "AUC",
    "roc": "ROC",
    "ppv": "PPV",
    "npv": "NPV",
    "f1": "F1",
    "n": "n",
    "ece": "ECE",
}


def _metric_name(key: str) -> str:
    words = str(key).replace("_", " ").split()
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in words)


def _metric_value(value: Any, depth: int = 0) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return num(value, 3)
    if isinstance(value, dict) and depth < 2:
        inner = ", ".join(
            f"{_metric_name(k)} {_metric_value(v, depth + 1)}" for k, v in value.items()
        )
        return f"({inner})"
    if isinstance(value, (list, tuple)) and depth < 2:
        return "[" + ", ".join(_metric_value(v, depth + 1) for v in value) + "]"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def metrics_text(metrics: dict[str, Any] | None) -> str:
    """A model card's validation metrics on one line, e.g. ``recall 0.8; AUC 0.912; n test 400``."""
    if not metrics:
        return "none stated"
    text = "; ".join(f"{_metric_name(k)} {_metric_value(v)}" for k, v in metrics.items())
    return text if len(text) <= 600 else text[:597] + "…"
