"""Exact binomial intervals without scipy, checked against scipy (the training extra has it)."""

from __future__ import annotations

import math

import pytest

from dysmorph_desk.utils.intervals import (
    beta_ppf,
    betai,
    clopper_pearson,
    predictive_value_range,
)

GRID_N = (1, 2, 3, 5, 10, 53, 106, 159, 500, 1000, 2000)


def _grid():
    for n in GRID_N:
        for k in sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1, n}):
            if 0 <= k <= n:
                yield k, n


def test_clopper_pearson_matches_scipy_beta_ppf_to_1e9():
    stats = pytest.importorskip("scipy.stats")
    for k, n in _grid():
        for level in (0.95, 0.9, 0.99):
            tail = (1 - level) / 2
            lo, hi = clopper_pearson(k, n, level)
            want_lo = 0.0 if k == 0 else stats.beta.ppf(tail, k, n - k + 1)
            want_hi = 1.0 if k == n else stats.beta.ppf(1 - tail, k + 1, n - k)
            assert lo == pytest.approx(want_lo, abs=1e-9), (k, n, level)
            assert hi == pytest.approx(want_hi, abs=1e-9), (k, n, level)


def test_regularised_incomplete_beta_and_its_inverse_match_scipy():
    special = pytest.importorskip("scipy.special")
    for a, b in ((0.5, 0.5), (1, 1), (2, 5), (53, 1), (1, 2000), (1000, 1001), (1999, 2)):
        for x in (1e-6, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-6):
            assert betai(a, b, x) == pytest.approx(special.betainc(a, b, x), abs=1e-12)
        for q in (0.025, 0.5, 0.975):
            assert beta_ppf(q, a, b) == pytest.approx(special.betaincinv(a, b, q), abs=1e-9)


def test_edges_are_exact():
    assert clopper_pearson(0, 0) == (0.0, 1.0)  # nothing counted: says nothing
    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-15)
    lo, hi = clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 10), abs=1e-15)
    for k, n in _grid():  # always ordered, inside [0, 1], around the point estimate
        lo, hi = clopper_pearson(k, n)
        assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_the_issues_example_zero_false_positives_among_53_children():
    lo, hi = clopper_pearson(0, 53)  # 159 negative photos of 53 children, none flagged
    assert lo == 0.0 and round(hi, 3) == 0.067  # the false-positive rate could be 6.7%
    spec_ci = (1 - hi, 1.0)
    # the shipped demo-hybrid card: sensitivity 157 of 159 photos (53 children)
    sens_ci = clopper_pearson(157, 159)
    ppv_lo, ppv_hi = predictive_value_range(sens_ci, spec_ci, 0.01)["ppv"]
    assert 0.12 <= ppv_lo <= 0.14 and ppv_hi == 1.0  # "PPV 100%" was as low as about 13%
    # counted per child (53 of 53): a little lower still
    child = predictive_value_range(clopper_pearson(53, 53), spec_ci, 0.01)["ppv"]
    assert child[0] == pytest.approx(0.1229, abs=1e-3)


def test_predictive_value_ranges_take_their_ends_from_the_bounds():
    sens_ci, spec_ci = (0.7, 0.9), (0.85, 0.95)
    r = predictive_value_range(sens_ci, spec_ci, 0.05)

    def ppv(s, p, prev=0.05):
        return s * prev / (s * prev + (1 - p) * (1 - prev))

    def npv(s, p, prev=0.05):
        return p * (1 - prev) / (p * (1 - prev) + (1 - s) * prev)

    assert r["ppv"] == pytest.approx((ppv(0.7, 0.85), ppv(0.9, 0.95)))
    assert r["npv"] == pytest.approx((npv(0.7, 0.85), npv(0.9, 0.95)))
    for s in (0.7, 0.8, 0.9):  # every point inside the box lies inside the ranges
        for p in (0.85, 0.9, 0.95):
            assert r["ppv"][0] <= ppv(s, p) <= r["ppv"][1]
            assert r["npv"][0] <= npv(s, p) <= r["npv"][1]
    corner = predictive_value_range((0.0, 1.0), (0.0, 1.0), 0.01)  # undefined corners: widest
    assert corner["ppv"] == (0.0, 1.0) and corner["npv"] == (0.0, 1.0)


@pytest.mark.parametrize(
    "args",
    [(-1, 5), (6, 5), (1.5, 5), (True, 5), (1, 5, 1.0), (1, 5, 0.0)],
)
def test_bad_counts_are_refused(args):
    with pytest.raises(ValueError):
        clopper_pearson(*args)


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError):
        predictive_value_range((0.9, 0.8), (0.5, 0.6), 0.01)
    with pytest.raises(ValueError):
        predictive_value_range((0.8, 0.9), (0.5, 1.1), 0.01)
    with pytest.raises(ValueError):
        predictive_value_range((0.8, 0.9), (0.5, 0.6), 1.5)
    assert math.isclose(beta_ppf(0.0, 2, 3), 0.0) and beta_ppf(1.0, 2, 3) == 1.0
