"""Patient-grouped, class-stratified splits: several photos of one child never straddle two parts.

Stratification is by patient (each patient counted once, under the class of their first photo),
so every fold holds about the same share of each class's children (seeds 000, 001 and 003).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dysmorph_desk.errors import DataError

PROTOCOLS = ("kfold", "3:1:1", "holdout")


@dataclass(frozen=True)
class FoldPlan:
    """Photo indices of one fold's parts."""

    index: int  # 1-based
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _patients_by_class(labels: np.ndarray, groups: list[str]) -> dict[int, list[str]]:
    first: dict[str, int] = {}
    for g, y in zip(groups, labels, strict=False):
        first.setdefault(g, int(y))
    by_class: dict[int, list[str]] = {}
    for g, y in first.items():
        by_class.setdefault(y, []).append(g)
    return {y: sorted(gs) for y, gs in sorted(by_class.items())}


def grouped_split(
    labels: np.ndarray, groups: list[str], fractions: tuple[float, ...], seed: int
) -> list[np.ndarray]:
    """Stratified split by patient into parts of the given fractions; a class with at least as
    many patients as parts has one in every part (so a threshold can be fitted on validation)."""
    rng = np.random.default_rng(seed)
    groups_arr = np.asarray(groups)
    assign: dict[str, int] = {}
    for gs in _patients_by_class(np.asarray(labels), groups).values():
        gs = list(gs)
        rng.shuffle(gs)
        cuts = np.round(np.cumsum(fractions) / sum(fractions) * len(gs)).astype(int)
        sizes = np.diff(np.concatenate([[0], cuts]))
        while len(gs) >= len(fractions) and (sizes == 0).any():  # every part gets each class
            sizes[int(np.argmax(sizes))] -= 1
            sizes[int(np.argmin(sizes))] += 1
        cuts = np.cumsum(sizes)
        start = 0
        for k, end in enumerate(cuts):
            for g in gs[start:end]:
                assign[g] = k
            start = end
    parts: list[list[int]] = [[] for _ in fractions]
    for i, g in enumerate(groups_arr):
        parts[assign[g]].append(i)
    return [np.array(sorted(p), dtype=int) for p in parts]


def grouped_kfold(labels: np.ndarray, groups: list[str], k: int, seed: int) -> np.ndarray:
    """Fold number (0..k-1) of every photo: each class's patients shuffled and dealt round-robin.

    Dealing continues across classes from where the previous class stopped, so fold sizes differ
    by at most one patient overall as well as within each class.
    """
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    offset = 0
    for gs in _patients_by_class(np.asarray(labels), groups).values():
        gs = list(gs)
        rng.shuffle(gs)
        for j, g in enumerate(gs):
            fold_of[g] = (offset + j) % k
        offset = (offset + len(gs)) % k
    return np.array([fold_of[g] for g in groups], dtype=int)


def min_patients_per_class(folds: int, protocol: str) -> int:
    """Fewest patients a class needs to appear in every fold's train, validation and test parts."""
    if protocol == "3:1:1":
        return folds
    if protocol == "holdout":
        return 3
    n = folds
    while n - -(-n // folds) < 2:  # the training part must spare one patient for validation
        n += 1
    return n


def check_enough_patients(per_class_patients: dict[str, int], folds: int, protocol: str) -> None:
    """Refuse (exit 3) with the numbers when a class cannot appear in every part of every fold."""
    if protocol == "holdout":
        folds = 1
    elif protocol == "3:1:1" and folds < 3:
        raise DataError(
            "the 3:1:1 protocol needs at least 3 folds (train, validation and test parts)"
        )
    need = min_patients_per_class(folds, protocol)
    short = {c: n for c, n in per_class_patients.items() if n < need}
    if short:
        listing = ", ".join(f"{c}: {n}" for c, n in sorted(short.items()))
        what = {
            "kfold": f"{folds} folds with an inner validation split",
            "3:1:1": f"{folds} folds of train/validation/test 3:1:1",
            "holdout": "one train/validation/test split",
        }[protocol]
        raise DataError(
            f"too few patients for {what}: {listing} (need at least {need} patients in every class; "
            f"use fewer --folds or add data)"
        )


def plan_folds(
    labels: np.ndarray,
    groups: list[str],
    *,
    folds: int,
    protocol: str = "kfold",
    val_fraction: float = 0.15,
    seed: int = 0,
) -> list[FoldPlan]:
    """The folds of a cross-validation run.

    ``kfold``: fold k is the test part; an inner grouped, stratified ``val_fraction`` of the rest
    (seeded per fold) is for early stopping, temperature and threshold. ``3:1:1`` (seed 003): the
    patients are cut into ``folds`` parts; fold k tests on part k, validates on part k+1 and trains
    on the others (3:1:1 with 5 folds). ``holdout``: one train/validation/test split 3:1:1
    (``folds`` ignored), as issue 2's first ``train`` and the shipped demonstration bundles.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}")
    labels = np.asarray(labels)
    if protocol == "holdout":
        train, val, test = grouped_split(labels, groups, (0.6, 0.2, 0.2), seed)
        return [FoldPlan(1, train, val, test)]
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    labels = np.asarray(labels)
    fold_of = grouped_kfold(labels, groups, folds, seed)
    plans = []
    for k in range(folds):
        test = np.flatnonzero(fold_of == k)
        if protocol == "3:1:1":
            val = np.flatnonzero(fold_of == (k + 1) % folds)
            train = np.flatnonzero((fold_of != k) & (fold_of != (k + 1) % folds))
        else:
            rest = np.flatnonzero(fold_of != k)
            train, val = _inner_split(labels, groups, rest, val_fraction, seed + 1000 + k)
        plans.append(FoldPlan(k + 1, train, val, test))
    return plans


def _inner_split(
    labels: np.ndarray, groups: list[str], rest: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Grouped, stratified validation part of a fold's training photos: at least one patient per
    class (when the class has two or more), so the threshold can be chosen on it."""
    rng = np.random.default_rng(seed)
    sub_groups = [groups[i] for i in rest]
    val_patients: set[str] = set()
    for gs in _patients_by_class(labels[rest], sub_groups).values():
        gs = list(gs)
        rng.shuffle(gs)
        n_val = min(max(1, round(fraction * len(gs))), len(gs) - 1) if len(gs) >= 2 else 0
        val_patients.update(gs[:n_val])
    in_val = np.array([g in val_patients for g in sub_groups], dtype=bool)
    return rest[~in_val], rest[in_val]
