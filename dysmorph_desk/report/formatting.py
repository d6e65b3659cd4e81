"""How numbers, percentages, ages, dates and model-card validation are printed on the report.

Pure string formatting with no reportlab import, so it can be tested (and reused: the CLI, the
app) on its own. Honest numbers: a percentage is never in scientific notation and never claims a
precision it does not have ("<0.1%", ">99.9%"); a rate from a finite sample (sensitivity,
specificity) comes with its exact 95 % interval and n, or says that its interval is unknown; PPV
and NPV are ranges over those intervals.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from dysmorph_desk.bundles.cards import INTERVAL_UNKNOWN, ModelCard, Rates, SubgroupRates
from dysmorph_desk.utils.intervals import Rate

INTERVAL_METHOD = "exact 95% intervals (Clopper–Pearson)"


# A many-class model (a gallery encoder's 20 syndromes) shows its most probable few classes on one
# line or in the results panel; the card, the PDF's model table and the JSON keep them all.
SHOWN_CLASSES = 3


def many_classes(n: int) -> bool:
    """Whether a model with ``n`` classes shows only a few of them (more than one left out)."""
    return n > SHOWN_CLASSES + 1


def shown_classes(probabilities: dict[str, float]) -> list[tuple[str, float]]:
    """Every class of a small model in card order; of a many-class one, the ``SHOWN_CLASSES``
    most probable, most probable first."""
    items = list(probabilities.items())
    if not many_classes(len(items)):
        return items
    return sorted(items, key=lambda kv: -kv[1])[:SHOWN_CLASSES]


def num(value: float, digits: int = 3) -> str:
    """A number without trailing zeros: 0.5, 0.853, 12."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_percent(fraction: float) -> str:
    """A fraction as a percentage with one decimal, never in scientific notation.

    0 and 1 print as "0%" and "100%"; a non-zero value under 0.1 % as "<0.1%" and one short of 1
    above 99.9 % as ">99.9%", so that rounding never shows a certainty the number does not have.
    A rate from a finite sample is printed with :func:`format_rate` (its interval) instead.
    """
    if math.isnan(fraction):
        return "n/a"
    if fraction == 0:
        return "0%"
    if fraction == 1:
        return "100%"
    pct = fraction * 100.0
    if 0 < pct < 0.1:
        return "<0.1%"
    if 99.9 < pct < 100:
        return ">99.9%"
    return f"{pct:.1f}%"


def format_prevalence(fraction: float) -> str:
    """A prevalence setting (exact, not measured): ``1%``, ``0.5%``."""
    return f"{num(fraction * 100.0, 3)}%"


def _bound(fraction: float) -> str:
    """One end of an interval, in percent without the sign: more decimals near 100 %."""
    if fraction <= 0:
        return "0"
    if fraction >= 1:
        return "100"
    pct = fraction * 100.0
    if pct < 0.1:
        return "<0.1"
    if pct >= 99.0:
        text = f"{pct:.2f}"
        return ">99.99" if text == "100.00" else text.rstrip("0").rstrip(".")
    return num(pct, 1)


def format_range(lo: float, hi: float) -> str:
    """An interval of fractions in percent: ``93.3–100%``, ``12.3–100%``, ``0–6.7%``."""
    a, b = _bound(lo), _bound(hi)
    return f"{a}%" if a == b else f"{a}–{b}%"


def format_rate(rate: Rate) -> str:
    """A rate with its 95 % CI and n, e.g. ``98.1% (95% CI 90.1–100%, n = 53)``; an older card's
    value says that its interval is unknown."""
    if not rate.interval_known or rate.ci95 is None:
        return f"{format_percent(rate.value)}, {INTERVAL_UNKNOWN}"
    value = "n/a" if math.isnan(rate.value) else format_percent(rate.value)
    return f"{value} (95% CI {format_range(*rate.ci95)}, n = {rate.n})"


def format_predictive_ranges(ranges: dict[str, tuple[float, float]], prevalence: float) -> str:
    """The PPV/NPV ranges printed, e.g. ``PPV 12.3–100% / NPV 99.93–100% at prevalence 1%``."""
    return (
        f"PPV {format_range(*ranges['ppv'])} / NPV {format_range(*ranges['npv'])} "
        f"at prevalence {format_prevalence(prevalence)}"
    )


def predictive_value_text(card: ModelCard, prevalence: float, assessable: bool) -> str | None:
    """What a result's PPV/NPV cell says: None (nothing) for a result that cannot be assessed."""
    if not assessable:
        return None
    rates = card.rates()
    if rates is None:
        return "not available (the card states no sensitivity and specificity)"
    ranges = rates.predictive_value_ranges(prevalence)
    if ranges is None:
        return f"not computed — sensitivity and specificity: {INTERVAL_UNKNOWN}"
    return format_predictive_ranges(ranges, prevalence)


def _auc(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return "not recorded"
    return ">0.999" if 0.9995 <= value < 1 else f"{value:.3f}"


def validation_rows(card: ModelCard) -> list[tuple[str, str, str, str]]:
    """The card's clinically meaningful validation: (metric, value, 95% CI, n children) rows
    ("unknown" and "—" where an older card did not record them).

    Sensitivity and specificity come from :meth:`ModelCard.rates` (per child, exact intervals; n
    is the syndromic or the non-syndromic children); the AUC with the card's bootstrap interval.
    Nothing else (runtimes, kappa, per-fold SDs) goes on a clinician's report.
    """
    rows: list[tuple[str, str, str, str]] = []
    rates = card.rates()
    if rates is not None:
        for name, rate in (("Sensitivity", rates.sensitivity), ("Specificity", rates.specificity)):
            if rate.interval_known and rate.ci95 is not None:
                value = "n/a" if math.isnan(rate.value) else format_percent(rate.value)
                rows.append((name, value, format_range(*rate.ci95), str(rate.n)))
            else:
                rows.append((name, format_percent(rate.value), "unknown", "—"))
    metrics = card.validation_metrics or {}
    auc = metrics.get("auc")
    if isinstance(auc, (int, float)) and not isinstance(auc, bool):
        ci = metrics.get("auc_ci95")
        ci_text = "unknown"
        if isinstance(ci, list) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci):
            ci_text = f"{ci[0]:.3f}–{ci[1]:.3f}"
        n = rates.n_children if rates is not None and rates.n_children is not None else None
        rows.append(("AUC", _auc(auc), ci_text, "—" if n is None else str(n)))
    return rows


def validation_note(rates: Rates | None) -> str:
    """The line under the validation table: the unit counted and the interval method."""
    if rates is None:
        return "The model card states no sensitivity and specificity."
    if rates.interval_unknown:
        return (
            f"{INTERVAL_UNKNOWN.capitalize()}; the card does not say whether it counted photos "
            "or children."
        )
    photos = f" ({rates.n_photos} photos)" if rates.n_photos is not None else ""
    return f"Counted per child: {rates.n_children} children{photos}; {INTERVAL_METHOD}."


_ATTRIBUTE_NAMES = {"age_band": "age", "sex": "sex"}


def subgroup_text(sub: SubgroupRates) -> str:
    """The model's validation in one of the patient's groups, e.g. ``age 6-12 y: sensitivity
    90.0% (95% CI 55.5–99.7%, n = 10); specificity ...``, or why it gives none."""
    head = f"{_ATTRIBUTE_NAMES.get(sub.attribute, sub.attribute)} {sub.group}"
    if sub.note is not None or sub.sensitivity is None or sub.specificity is None:
        return f"{head}: {sub.note}"
    return (
        f"{head} ({sub.n_children} children): sensitivity {format_rate(sub.sensitivity)}; "
        f"specificity {format_rate(sub.specificity)}"
    )


def subgroup_lines(card: ModelCard, age_months: float | None, sex: str | None) -> list[str]:
    """The lines of the report's "Patient's group" cell: one per known group of the patient's, or
    one saying that the card records no subgroups, or that age and sex were not given."""
    subs = [s for s in card.subgroup_rates(age_months, sex).values() if s is not None]
    if not subs:
        return ["age and sex not given"]
    if not any(s.recorded for s in subs):
        groups = ", ".join(
            f"{_ATTRIBUTE_NAMES.get(s.attribute, s.attribute)} {s.group}" for s in subs
        )
        return [f"subgroups not recorded on the model card ({groups})"]
    return [subgroup_text(s) for s in subs]


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
