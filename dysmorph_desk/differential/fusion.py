"""Fusing the face (gallery distances) and the phenotype (HPO similarity) into one ranked list.

Method (PEDIA-style, Hsieh et al. 2019): each candidate disorder gets two features in [0, 1],

* the **gestalt similarity** ``g = 1 - d / 2`` from the cosine distance ``d`` of the photo's
  embedding to the disorder's gallery patients (``d`` in [0, 2]; 0 when the disorder has no gallery
  entry), and
* the **phenotype similarity** ``f = s / max(s)``: the disorder's Resnik/funSimAvg score for the
  entered HPO terms divided by the best score of this query (0 when no terms were entered or the
  disorder is in no ontology, as local gallery ids are),

and a logistic combination ``combined = sigmoid(b + w_g g + w_f f)`` orders them. Why a logistic
combination rather than a rank product: the two scores are on different scales and a rank product
gives a disorder missing from one source no sensible rank, whereas the logistic model treats
"no evidence from this source" as a zero feature and its weights can be fitted on labelled cases
(``fit_weights``; PEDIA fits an SVM the same way). Unfitted weights are equal (``b = 0, w = 1``),
which ranks by ``g + f`` and says so; fitted weights are stored with the split and number of cases
they came from, and ``evaluate-gallery`` fits them on a split separate from the one it reports.

The combined score orders candidates; it is **not** a probability that the child has the disorder
and is never shown as a percentage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TOP_N = 10  # rows in the report's table and the JSON list
PHENOTYPE_CANDIDATES = (
    200  # phenotype-only candidates carried into the fusion (the rest rank lower)
)


@dataclass(frozen=True)
class FusionWeights:
    """The logistic combination's parameters and where they came from."""

    intercept: float = 0.0
    gestalt: float = 1.0
    phenotype: float = 1.0
    fitted_on: str = "not fitted: equal weights"
    n_cases: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "intercept": round(self.intercept, 6),
            "gestalt": round(self.gestalt, 6),
            "phenotype": round(self.phenotype, 6),
            "fitted_on": self.fitted_on,
            "n_cases": self.n_cases,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FusionWeights:
        b, g, f = (float(data[k]) for k in ("intercept", "gestalt", "phenotype"))
        if not all(math.isfinite(v) for v in (b, g, f)):
            raise ValueError("fusion weights must be finite numbers")
        return cls(b, g, f, str(data.get("fitted_on", "")), int(data.get("n_cases", 0)))


@dataclass(frozen=True)
class GestaltEvidence:
    """What the gallery says about one disorder: its distance and nearest entries.

    ``nearest`` holds (entry number, distance) pairs: gallery entries by number only, never another
    child's patient id.
    """

    disorder_id: str
    name: str
    distance: float
    nearest: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class PhenotypeEvidence:
    """The phenotype scores of every annotated disease, aligned arrays."""

    disorder_ids: Sequence[str]
    names: Sequence[str]
    scores: np.ndarray


@dataclass(frozen=True)
class DifferentialRow:
    """One candidate disorder of the differential, with each source's score beside the combined."""

    rank: int
    disorder_id: str
    name: str
    gestalt_distance: float | None
    nearest_entries: tuple[tuple[int, float], ...]
    phenotype_score: float | None
    combined_score: float
    in_ontology: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "disorder_id": self.disorder_id,
            "name": self.name,
            "gestalt_distance": None
            if self.gestalt_distance is None
            else round(self.gestalt_distance, 6),
            "nearest_entries": [
                {"entry": int(e), "distance": round(float(d), 6)} for e, d in self.nearest_entries
            ],
            "phenotype_score": None
            if self.phenotype_score is None
            else round(self.phenotype_score, 6),
            "combined_score": round(self.combined_score, 6),
            "in_ontology": self.in_ontology,
        }


@dataclass(frozen=True)
class Features:
    """The two features of each candidate, aligned with ``disorder_ids``."""

    disorder_ids: list[str]
    names: list[str]
    gestalt: np.ndarray  # g in [0, 1], 0 where the gallery has no entry
    phenotype: np.ndarray  # f in [0, 1], 0 where unscored
    gestalt_distance: list[float | None] = field(default_factory=list)
    phenotype_score: list[float | None] = field(default_factory=list)
    nearest: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    in_ontology: list[bool] = field(default_factory=list)


def features(
    gestalt: Sequence[GestaltEvidence] | None,
    phenotype: PhenotypeEvidence | None,
    *,
    phenotype_candidates: int = PHENOTYPE_CANDIDATES,
) -> Features:
    """The candidates (the union of both sources) and their features.

    Every disorder with a gallery entry is a candidate; of the phenotype's ranking, the best
    ``phenotype_candidates`` are (a disorder ranked lower by the phenotype and absent from the
    gallery cannot enter the top 10 whatever the weights, as long as they are positive).
    """
    ids: list[str] = []
    names: list[str] = []
    where: dict[str, int] = {}
    g_dist: list[float | None] = []
    p_score: list[float | None] = []
    nearest: list[tuple[tuple[int, float], ...]] = []
    ontology: set[str] = set()

    def slot(disorder_id: str, name: str) -> int:
        if disorder_id not in where:
            where[disorder_id] = len(ids)
            ids.append(disorder_id)
            names.append(name)
            g_dist.append(None)
            p_score.append(None)
            nearest.append(())
        return where[disorder_id]

    for ev in gestalt or ():
        i = slot(ev.disorder_id, ev.name)
        g_dist[i] = float(ev.distance)
        nearest[i] = tuple(ev.nearest)
    best = 0.0
    if phenotype is not None and len(phenotype.scores):
        scores = np.asarray(phenotype.scores, dtype=np.float64)
        ontology = set(phenotype.disorder_ids)
        best = float(scores.max())
        k = min(phenotype_candidates, len(scores))
        top = np.argsort(-scores, kind="stable")[:k]
        for j in top:
            slot(str(phenotype.disorder_ids[j]), str(phenotype.names[j]))
        index = {d: j for j, d in enumerate(phenotype.disorder_ids)}
        for i, d in enumerate(ids):
            j = index.get(d)
            if j is not None:
                p_score[i] = float(scores[j])
                if not names[i] or names[i] == d:
                    names[i] = str(phenotype.names[j])
    g = np.array([0.0 if d is None else max(0.0, 1.0 - d / 2.0) for d in g_dist])
    f = np.array([0.0 if s is None or best <= 0 else s / best for s in p_score])
    return Features(
        ids,
        names,
        g,
        f,
        g_dist,
        p_score,
        nearest,
        [d in ontology for d in ids],
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def fuse(
    gestalt: Sequence[GestaltEvidence] | None,
    phenotype: PhenotypeEvidence | None,
    weights: FusionWeights | None = None,
    *,
    top_n: int = TOP_N,
) -> list[DifferentialRow]:
    """The combined ranking of the disorders either source scores, best first.

    Args:
        gestalt: the gallery's per-disorder evidence (None or empty without a gallery).
        phenotype: the phenotype scores of all annotated diseases (None without HPO terms).
        weights: the logistic combination; equal weights when None.
        top_n: how many rows to return (all candidates with ``top_n <= 0``).

    Example:
        >>> rows = fuse([GestaltEvidence("ORPHA:1", "A", 0.2)], None)
        >>> rows[0].disorder_id, rows[0].rank
        ('ORPHA:1', 1)
    """
    w = weights or FusionWeights()
    feats = features(gestalt, phenotype)
    if not feats.disorder_ids:
        return []
    combined = _sigmoid(w.intercept + w.gestalt * feats.gestalt + w.phenotype * feats.phenotype)
    # ties (e.g. two diseases with equal phenotype scores and no gallery entry) break by id
    order = sorted(range(len(combined)), key=lambda i: (-combined[i], feats.disorder_ids[i]))
    if top_n > 0:
        order = order[:top_n]
    return [
        DifferentialRow(
            rank=r + 1,
            disorder_id=feats.disorder_ids[i],
            name=feats.names[i],
            gestalt_distance=feats.gestalt_distance[i],
            nearest_entries=feats.nearest[i],
            phenotype_score=feats.phenotype_score[i],
            combined_score=float(combined[i]),
            in_ontology=feats.in_ontology[i],
        )
        for r, i in enumerate(order)
    ]


def fit_weights(
    x: np.ndarray,
    y: np.ndarray,
    *,
    fitted_on: str,
    n_cases: int,
    l2: float = 1e-3,
    iterations: int = 50,
) -> FusionWeights:
    """Fit the logistic combination by Newton's method (IRLS) with a small L2 penalty.

    Args:
        x: (n, 2) features ``[g, f]`` of (case, candidate) pairs.
        y: (n,) 1 where the candidate is the case's true disorder, else 0.
        fitted_on: which split the pairs came from (stored with the weights and shown).
        n_cases: the number of cases (not pairs) the pairs came from.
        l2: the penalty on the two weights (not the intercept); keeps separable data finite.
        iterations: Newton steps at most.

    Example:
        >>> x = np.array([[0.9, 0.8], [0.1, 0.2], [0.8, 0.9], [0.2, 0.1]])
        >>> w = fit_weights(x, np.array([1, 0, 1, 0]), fitted_on="demo", n_cases=2)
        >>> w.gestalt > 0 and w.phenotype > 0
        True
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) != len(y) or len(y) == 0:
        raise ValueError("fit_weights needs (n, 2) features and n labels")
    if y.min() == y.max():
        raise ValueError("fit_weights needs both true and false candidates")
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(3)
    penalty = np.diag([0.0, l2, l2]) * len(x)
    for _ in range(iterations):
        p = _sigmoid(design @ beta)
        grad = design.T @ (p - y) + penalty @ beta
        hess = (design * (p * (1 - p))[:, None]).T @ design + penalty + 1e-9 * np.eye(3)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return FusionWeights(float(beta[0]), float(beta[1]), float(beta[2]), fitted_on, int(n_cases))
