"""Folds: no child on both sides, classes spread evenly, repeatable, and refusals that give numbers."""

from __future__ import annotations

import numpy as np
import pytest

from dysmorph_desk.errors import DataError
from dysmorph_desk.training.splits import (
    check_enough_patients,
    grouped_kfold,
    min_patients_per_class,
    plan_folds,
)


def _data(n_photos=500, n_patients=90, seed=0):
    rng = np.random.default_rng(seed)
    groups = [f"P{rng.integers(0, n_patients)}" for _ in range(n_photos)]
    label_of = {g: int(int(g[1:]) % 3 == 0) for g in set(groups)}  # ~1/3 syndromic: imbalanced
    return np.array([label_of[g] for g in groups]), groups


def _patients(groups, idx):
    return {groups[i] for i in idx}


def test_kfold_deals_each_patient_to_one_fold_and_balances_classes():
    labels, groups = _data()
    fold = grouped_kfold(labels, groups, 5, seed=1)
    for g in set(groups):
        assert len({fold[i] for i, gg in enumerate(groups) if gg == g}) == 1
    for cls in (0, 1):
        patients = {g for g, y in zip(groups, labels, strict=False) if y == cls}
        per_fold = [
            len({g for g, f in zip(groups, fold, strict=False) if f == k} & patients)
            for k in range(5)
        ]
        assert max(per_fold) - min(per_fold) <= 1
    assert (grouped_kfold(labels, groups, 5, seed=1) == fold).all()
    assert not (grouped_kfold(labels, groups, 5, seed=2) == fold).all()


@pytest.mark.parametrize("protocol", ["kfold", "3:1:1"])
def test_no_patient_in_two_parts_of_any_fold(protocol):
    labels, groups = _data()
    plans = plan_folds(labels, groups, folds=5, protocol=protocol, val_fraction=0.15, seed=0)
    assert len(plans) == 5
    tested = np.concatenate([p.test for p in plans])
    assert sorted(tested) == list(range(len(labels)))  # every photo tested exactly once
    for p in plans:
        tr, va, te = _patients(groups, p.train), _patients(groups, p.val), _patients(groups, p.test)
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert len(p.train) + len(p.val) + len(p.test) == len(labels)
        for part in (p.train, p.val, p.test):
            assert set(labels[part]) == {0, 1}


def test_kfold_inner_validation_is_about_the_asked_share_and_3_1_1_is_three_one_one():
    labels, groups = _data(n_photos=2000, n_patients=400)
    for p in plan_folds(labels, groups, folds=5, protocol="kfold", val_fraction=0.15, seed=0):
        share = len(_patients(groups, p.val)) / len(
            _patients(groups, np.concatenate([p.train, p.val]))
        )
        assert 0.12 < share < 0.18
    for p in plan_folds(labels, groups, folds=5, protocol="3:1:1", seed=0):
        n = [len(_patients(groups, part)) for part in (p.train, p.val, p.test)]
        assert n[0] / n[2] == pytest.approx(3, rel=0.1) and n[1] / n[2] == pytest.approx(1, rel=0.1)


def test_too_few_patients_is_refused_with_the_numbers():
    assert min_patients_per_class(5, "kfold") == 5 and min_patients_per_class(2, "kfold") == 4
    check_enough_patients({"control": 5, "ds": 5}, 5, "kfold")
    with pytest.raises(DataError, match=r"ds: 3.*at least 5"):
        check_enough_patients({"control": 40, "ds": 3}, 5, "kfold")
    with pytest.raises(DataError, match="at least 3 folds"):
        check_enough_patients({"control": 40, "ds": 40}, 2, "3:1:1")


def test_small_classes_still_get_a_validation_patient():
    labels = np.array([0] * 20 + [1] * 4)
    groups = [f"C{i}" for i in range(20)] + [f"S{i}" for i in range(4)]
    for p in plan_folds(labels, groups, folds=2, seed=0):
        assert set(labels[p.val]) == {0, 1} and set(labels[p.train]) == {0, 1}


def test_holdout_with_three_children_in_a_class_puts_one_in_each_part():
    labels = np.array([0] * 30 + [1] * 3)
    groups = [f"C{i}" for i in range(30)] + ["S0", "S1", "S2"]
    (plan,) = plan_folds(labels, groups, folds=1, protocol="holdout", seed=0)
    for part in (plan.train, plan.val, plan.test):
        assert set(labels[part]) == {0, 1}
