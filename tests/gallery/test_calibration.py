"""The no-close-match threshold: its arithmetic, its interval, where it is stored, and staleness."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dysmorph_desk.errors import DataError, UsageError
from dysmorph_desk.gallery.calibration import (
    MIN_UNRELATED,
    calibrate_threshold,
    leave_one_out_matches,
    nearest_distances,
    threshold_from_distances,
)
from dysmorph_desk.gallery.ranking import rank
from dysmorph_desk.gallery.store import read_gallery, write_gallery
from dysmorph_desk.utils.intervals import clopper_pearson
from tests.gallery.helpers import OTHER_SHA, SHA, FakeBundle, random_gallery, unit_rows


def test_threshold_by_hand():
    d = np.array([0.30, 0.10, 0.50, 0.20] + [0.9] * 16)  # n = 20
    assert threshold_from_distances(d, 0.05) == 0.10  # m = 1: the smallest
    assert threshold_from_distances(d, 0.10) == 0.20  # m = 2
    assert threshold_from_distances(d, 0.15) == 0.30  # m = 3
    # m = 0: just below the smallest distance, nothing matches
    t = threshold_from_distances(d, 0.01)
    assert t < 0.10 and not (d <= t).any()


def test_ties_never_push_the_count_over_the_target():
    d = np.array([0.1, 0.2, 0.2, 0.2] + [0.8] * 16)  # n = 20, target 0.10: m = 2
    t = threshold_from_distances(d, 0.10)
    assert t == 0.1 and (d <= t).sum() == 1
    same = np.full(20, 0.4)
    t = threshold_from_distances(same, 0.5)
    assert (same <= t).sum() == 0  # all tied: any threshold at 0.4 matches all 20


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.0, 2.0, allow_nan=False), min_size=1, max_size=60),
    st.floats(0.001, 0.999),
)
def test_threshold_properties(values, target):
    d = np.array(values)
    t = threshold_from_distances(d, target)
    m = int(np.floor(target * len(d) + 1e-9))
    assert 0.0 <= t <= 2.0
    assert (d <= t).sum() <= max(m, (d <= 0.0).sum())  # only exact zeros can exceed m (t >= 0)
    larger = np.unique(d[d > t])
    if len(larger) and t > 0:  # maximal: the next distance up would exceed m
        assert (d <= larger[0]).sum() > m


def test_calibration_is_stored_with_its_interval():
    g = random_gallery(1)
    unrelated = unit_rows(np.random.default_rng(2), 40, 16)
    t = calibrate_threshold(unrelated, g, 0.10)
    d = nearest_distances(unrelated, g, SHA)
    assert t.n == 40 and t.false_matches == int((d <= t.threshold).sum()) <= 4
    assert t.rate == t.false_matches / 40
    assert t.interval == clopper_pearson(t.false_matches, 40)
    assert g.sets[SHA].threshold is t and t.n_entries == len(g.sets[SHA])
    assert "of 40 unrelated children" in t.describe() and "CI" in t.describe()


def _loo_brute_force(d: np.ndarray, target: float) -> int:
    return sum(
        int(d[i] <= threshold_from_distances(np.delete(d, i), target)) for i in range(len(d))
    )


def test_leave_one_out_by_hand():
    # n = 20, target 0.10: the threshold keeps m = 2 of the 20. Left out, each of the two smallest
    # faces a threshold set from the other 19 (m = 1): the other small one. 0.10 <= 0.20 matches,
    # 0.20 > 0.10 does not; the other 18 face 0.20 and lie above it.
    d = np.array([0.10, 0.20] + [0.5 + 0.01 * i for i in range(18)])
    assert threshold_from_distances(d, 0.10) == 0.20 and (d <= 0.20).sum() == 2  # in-sample: 2
    assert leave_one_out_matches(d, 0.10) == 1 == _loo_brute_force(d, 0.10)
    # the docstring's example: left out, 0.1 faces the others' threshold (0.5) and matches
    assert leave_one_out_matches(np.array([0.1, 0.5, 0.6, 0.7, 0.8]), 0.25) == 1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(0.0, 2.0, allow_nan=False), min_size=2, max_size=50),
    st.floats(0.001, 0.999),
)
def test_leave_one_out_matches_brute_force(values, target):
    d = np.array(values)
    assert leave_one_out_matches(d, target) == _loo_brute_force(d, target) <= len(d)


def test_leave_one_out_can_exceed_the_in_sample_count():
    """Why the estimate is stored: the in-sample count is held to the target by construction."""
    d = np.array([1.0, 2.0])  # m = 0 of 2: nothing matches in-sample; left out, 1.0 faces 2.0-
    assert (d <= threshold_from_distances(d, 0.25)).sum() == 0
    assert leave_one_out_matches(d, 0.25) == 1


def test_calibration_stores_the_leave_one_out_estimate_and_reports_it():
    g = random_gallery(1)
    unrelated = unit_rows(np.random.default_rng(2), 40, 16)
    t = calibrate_threshold(unrelated, g, 0.10)
    d = nearest_distances(unrelated, g, SHA)
    assert t.loo_false_matches == leave_one_out_matches(d, 0.10)
    assert t.estimate == "leave-one-out" and t.expected.k == t.loo_false_matches
    assert t.expected.ci95 == clopper_pearson(t.loo_false_matches, 40)
    assert "leave-one-out" in t.describe()
    again = type(t).from_stored(t.stored())
    assert again.loo_false_matches == t.loo_false_matches


def test_a_threshold_stored_before_the_estimate_reads_as_in_sample():
    g = random_gallery(1)
    t = calibrate_threshold(unit_rows(np.random.default_rng(2), 40, 16), g, 0.10)
    old = json.loads(t.stored())
    del old["loo_false_matches"]
    before = type(t).from_stored(json.dumps(old, sort_keys=True))
    assert before.loo_false_matches is None and before.estimate == "in-sample"
    assert before.expected.k == before.false_matches
    assert before.stored() == json.dumps(old, sort_keys=True, allow_nan=False)  # signatures hold
    assert before.describe().endswith("(in-sample)")
    for bad_value in (41, -1, 2.7, True, "3"):
        with pytest.raises(ValueError):
            type(t).from_stored(json.dumps({**old, "loo_false_matches": bad_value}))
    with pytest.raises(ValueError):
        type(t).from_stored(json.dumps({**old, "n": 40.0}))


def test_nearest_distances_match_brute_force():
    g = random_gallery(3)
    unrelated = unit_rows(np.random.default_rng(4), 25, 16)
    m = g.sets[SHA].matrix.astype(np.float64)
    want = (1.0 - unrelated.astype(np.float64) @ m.T).min(axis=1)
    assert np.allclose(nearest_distances(unrelated, g, SHA), want, atol=1e-6)


def test_ranking_agrees_with_the_calibration():
    """An unrelated photo counted as a false match ranks as a close match, and vice versa."""
    g = random_gallery(5)
    unrelated = unit_rows(np.random.default_rng(6), 30, 16)
    t = calibrate_threshold(unrelated, g, 0.2)
    flags = [rank(u, g, FakeBundle()).no_close_match for u in unrelated]
    assert sum(f is False for f in flags) == t.false_matches


def test_the_threshold_survives_the_file_and_goes_stale_on_change(tmp_path):
    g = random_gallery(7)
    calibrate_threshold(unit_rows(np.random.default_rng(8), 20, 16), g)
    path = tmp_path / "g.ddgallery"
    write_gallery(g, path)
    back = read_gallery(path)
    assert back.sets[SHA].threshold == g.sets[SHA].threshold
    assert rank(back.sets[SHA].vector_of(1), back, FakeBundle()).threshold_current
    back.remove([1])
    assert not rank(back.sets[SHA].vector_of(2), back, FakeBundle()).threshold_current


def test_too_few_children_and_bad_arguments():
    g = random_gallery(9)
    few = unit_rows(np.random.default_rng(10), MIN_UNRELATED - 1, 16)
    with pytest.raises(DataError, match=f"at least {MIN_UNRELATED}") as err:
        calibrate_threshold(few, g)
    assert err.value.exit_code == 3
    many = unit_rows(np.random.default_rng(11), MIN_UNRELATED, 16)
    for target in (0.0, 1.0, -0.1):
        with pytest.raises(UsageError):
            calibrate_threshold(many, g, target)
    g.add("ORPHA:1", "x", "P", {OTHER_SHA: ("other", np.ones(8))}, source="photo")
    with pytest.raises(UsageError, match="several models"):
        calibrate_threshold(many, g)
    assert calibrate_threshold(many, g, bundle=FakeBundle()).n == MIN_UNRELATED
