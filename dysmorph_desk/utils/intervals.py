"""Exact binomial intervals and the predictive-value ranges they imply, without scipy.

The runtime ships without scipy, yet a rate from a finite sample must never be shown without its
uncertainty: "specificity 1.000" from 53 children is, at 95 % confidence, anything from 93.3 % to
100 %. :func:`clopper_pearson` gives the exact (Clopper–Pearson) interval from the inverse of the
regularised incomplete beta function, computed here with the continued fraction of Numerical
Recipes (``betacf``/``betai``) and a bisection, to about 1e-14. :func:`predictive_value_range`
turns the intervals of sensitivity and specificity into the range of PPV and NPV at a prevalence.
:class:`Rate` is the one type of a proportion with its interval, for the model cards (sensitivity,
specificity) and the differential (top-k accuracy, a gallery's false-match rate) alike.

Standard library only (``math``), so every layer may use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

_EPS = 3e-16  # relative accuracy of the continued fraction
_TINY = 1e-300  # Lentz's guard against a zero denominator
_MAX_TERMS = 10_000
_BISECTIONS = 200  # enough to pin x to the last bit of a double


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz; NR ``betacf``)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for a={a}, b={b}, x={x}")


def betai(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (NR ``betai``), for a, b > 0."""
    if not (a > 0 and b > 0):
        raise ValueError(f"betai needs a, b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast on this side
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The x with I_x(a, b) = q: the quantile of Beta(a, b), by bisection (I_x rises with x)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile needs 0 <= q <= 1, got {q}")
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):  # adjacent doubles: as close as it gets
            break
        if betai(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) confidence interval of a proportion, ``k`` of ``n``.

    ``n = 0`` says nothing: (0, 1). The edges are exact: ``k = 0`` gives a lower bound of 0 and
    an upper bound of ``1 - (alpha/2)**(1/n)``; ``k = n`` mirrors it.

    Example:
        >>> lo, hi = clopper_pearson(0, 53)
        >>> lo, round(hi, 4)
        (0.0, 0.0672)
    """
    k, n = _count(k, "k"), _count(n, "n")
    if k > n:
        raise ValueError(f"k ({k}) cannot exceed n ({n})")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    if n == 0:
        return 0.0, 1.0
    tail = (1.0 - level) / 2.0
    edge = tail ** (1.0 / n)  # (alpha/2)^(1/n): the bound when every (or no) trial succeeded
    lo = 0.0 if k == 0 else (edge if k == n else beta_ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else (1.0 - edge if k == 0 else beta_ppf(1.0 - tail, k + 1, n - k))
    return lo, hi


def _ppv(sens: float, spec: float, prevalence: float, undefined: float) -> float:
    tp, fp = sens * prevalence, (1.0 - spec) * (1.0 - prevalence)
    return tp / (tp + fp) if tp + fp > 0 else undefined


def _npv(sens: float, spec: float, prevalence: float, undefined: float) -> float:
    tn, fn = spec * (1.0 - prevalence), (1.0 - sens) * prevalence
    return tn / (tn + fn) if tn + fn > 0 else undefined


def predictive_value_range(
    sens_ci: tuple[float, float], spec_ci: tuple[float, float], prevalence: float
) -> dict[str, tuple[float, float]]:
    """The PPV and NPV ranges at ``prevalence`` over the intervals of sensitivity and specificity.

    Both rise with sensitivity and with specificity, so the lower ends come from the lower bounds
    and the upper ends from the upper bounds. Where a corner leaves a value undefined (no test
    positive at all), the range takes its widest end: 0 for a lower, 1 for an upper bound.

    Example:
        >>> r = predictive_value_range((0.933, 1.0), (0.933, 1.0), 0.01)
        >>> round(r["ppv"][0], 3), r["ppv"][1]
        (0.123, 1.0)
    """
    (s_lo, s_hi), (p_lo, p_hi) = _ordered(sens_ci, "sens_ci"), _ordered(spec_ci, "spec_ci")
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must lie in [0, 1], got {prevalence}")
    return {
        "ppv": (_ppv(s_lo, p_lo, prevalence, 0.0), _ppv(s_hi, p_hi, prevalence, 1.0)),
        "npv": (_npv(s_lo, p_lo, prevalence, 0.0), _npv(s_hi, p_hi, prevalence, 1.0)),
    }


def _ordered(ci: tuple[float, float], name: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in ci)
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"{name} must satisfy 0 <= low <= high <= 1, got ({lo}, {hi})")
    return lo, hi


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Rate:
    """A proportion from a finite sample: its value, exact 95 % interval, denominator and count.

    ``ci95`` and ``n`` are None for an older card that recorded neither (its interval is unknown);
    ``k`` is None where only the value and interval were stored. ``value`` is nan when ``n`` is 0
    (nothing to count: the interval is then 0-1).

    Example:
        >>> r = Rate.of(0, 53)
        >>> r.value, r.n, r.k, round(r.ci95[1], 4)
        (0.0, 53, 0, 0.0672)
    """

    value: float
    ci95: tuple[float, float] | None = None
    n: int | None = None
    k: int | None = None

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        """``k`` of ``n`` with its Clopper–Pearson 95 % interval."""
        return cls(k / n if n else float("nan"), clopper_pearson(k, n), n, k)

    @property
    def interval_known(self) -> bool:
        return self.ci95 is not None and self.n is not None

    def to_json(self) -> dict[str, Any]:
        """``value`` (null when n is 0), ``ci95`` and ``n`` (null when unknown), and ``k`` if known."""
        value = None if math.isnan(self.value) else round(self.value, 6)
        ci = None if self.ci95 is None else [round(self.ci95[0], 6), round(self.ci95[1], 6)]
        data: dict[str, Any] = {"value": value, "ci95": ci, "n": self.n}
        if self.k is not None:
            data["k"] = self.k
        return data
