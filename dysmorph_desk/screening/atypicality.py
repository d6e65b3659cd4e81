"""Atypical photos: how far a face's embedding lies from the photos a model was validated on.

A model gives a probability for any face it is shown: an adult in uniform, a drawing, a photo of a
photo. It cannot say "I have never seen anything like this" — but the distribution of its own
embeddings can. Every forward graph outputs an L2-normalised embedding (the classifier's input);
a bundle may store

* the **mean** and the **precision** (inverse of a shrunk covariance) of the embeddings of the
  photos the model was trained on (tensors ``__atypicality__/mean`` and
  ``__atypicality__/precision``, covered by the digest and the signature like every member), and
* the **percentiles 0..100 of the Mahalanobis distances of held-out photos** (photos the
  statistics were not fitted on: the out-of-fold photos of training, or the cross-fitted photos of
  ``models --calibrate``), in the ``runtime`` JSON as ``atypicality.percentiles``.

Screening computes the photo's distance and its percentile among those held-out photos; above the
99th percentile (``ATYPICAL_PERCENTILE``) the result warns "this photo is unlike the photos the
model was validated on", or — when the card says ``atypical_is_cannot_assess`` — the model does not
assess the photo at all.

The covariance is shrunk towards a multiple of the identity by the Ledoit–Wolf (2004) formula: with
a few hundred photos and 256–1280 embedding dimensions the sample covariance is singular, and the
shrinkage intensity that minimises the expected squared error is estimated from the data itself,
with no constant to tune. A held-out reference matters because the training photos' own distances
are smaller than any new photo's (the model and the statistics were fitted to them); with few
reference photos the 99th percentile is close to their maximum, which the percentile table shows.

Numpy only (the runtime has no torch, no scipy, no scikit-learn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dysmorph_desk.bundles.format import LoadedBundle

ATYPICAL_PERCENTILE = 99.0
ATYPICAL_TEXT = "this photo is unlike the photos the model was validated on"
LEVELS = np.arange(101, dtype=np.float64)  # the stored percentiles: 0, 1, ..., 100
CROSS_FIT_FOLDS = 5
METHOD = "Mahalanobis distance, Ledoit-Wolf shrunk covariance"


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, Ledoit–Wolf shrunk covariance and shrinkage intensity of (N, D) samples.

    The target is ``mu * I`` with ``mu`` the mean variance; the same estimate as scikit-learn's
    ``LedoitWolf(assume_centered=False)`` (a test holds the two together).
    """
    x = np.asarray(x, np.float64)
    n, d = x.shape
    if n < 2:
        raise ValueError("the embedding statistics need at least 2 photos")
    mean = x.mean(axis=0)
    xc = x - mean
    cov = xc.T @ xc / n
    mu = float(np.trace(cov)) / d
    x2 = xc**2
    beta_ = float(np.sum(x2.T @ x2))
    delta_ = float(np.sum(cov**2))
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * float(np.trace(cov)) + d * mu**2) / d
    beta = min(beta, delta)
    shrinkage = 0.0 if beta <= 0 or delta <= 0 else beta / delta
    shrunk = (1.0 - shrinkage) * cov
    shrunk[np.diag_indices(d)] += shrinkage * mu
    return mean, shrunk, float(shrinkage)


def fit_statistics(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, precision (inverse shrunk covariance) and shrinkage of (N, D) embeddings."""
    mean, cov, shrinkage = ledoit_wolf(embeddings)
    d = cov.shape[0]
    # a floor on the spectrum: a constant embedding axis (dead unit) must not divide by zero
    floor = max(float(np.trace(cov)) / d, 1e-12) * 1e-6
    cov[np.diag_indices(d)] += floor
    precision = np.linalg.inv(cov)
    precision = (precision + precision.T) / 2.0
    return mean, precision, shrinkage


def mahalanobis(embeddings: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Distances of (N, D) (or one (D,)) embeddings: sqrt((x - mean)^T P (x - mean)), computed in
    the precision's dtype (a bundle's float32: no D x D float64 copy per photo)."""
    p = np.asarray(precision)
    x = np.atleast_2d(np.asarray(embeddings, np.float64)) - np.asarray(mean, np.float64)
    x = x.astype(p.dtype, copy=False)
    q = np.einsum("nd,nd->n", x @ p, x).astype(np.float64)
    return np.sqrt(np.maximum(q, 0.0))


@dataclass(frozen=True)
class Atypicality:
    """Where one photo's embedding falls among the held-out photos' distances."""

    distance: float
    percentile: float  # 0..100
    atypical: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "distance": round(self.distance, 4),
            "percentile": round(self.percentile, 2),
            "atypical": self.atypical,
        }

    def message(self, model: str) -> str:
        return (
            f"{model}: {ATYPICAL_TEXT} (its embedding is further from the training photos than "
            f"{self.percentile:.1f}% of held-out photos); treat the result with caution"
        )


@dataclass(frozen=True)
class Reference:
    """A model's embedding statistics and the held-out distances' percentiles (what a bundle holds)."""

    mean: np.ndarray  # (D,)
    precision: np.ndarray  # (D, D)
    percentiles: np.ndarray  # (101,): held-out distances at percentiles 0..100
    info: dict[str, Any] = field(default_factory=dict)  # n_fit, n_reference, shrinkage, source

    def distance(self, embeddings: np.ndarray) -> np.ndarray:
        return mahalanobis(embeddings, self.mean, self.precision)

    def percentile(self, distance: float) -> float:
        """The percentile of ``distance`` among the held-out distances (interpolated, 0..100)."""
        q = self.percentiles
        i = int(np.searchsorted(q, distance, side="right"))  # table points <= distance
        if i == 0:
            return 0.0
        if i >= len(q):
            return 100.0
        return float(LEVELS[i - 1] + (distance - q[i - 1]) / (q[i] - q[i - 1]))

    def assess(self, embedding: np.ndarray) -> Atypicality:
        d = float(self.distance(embedding)[0])
        p = self.percentile(d)
        return Atypicality(distance=d, percentile=p, atypical=p > ATYPICAL_PERCENTILE)

    def tensors(self) -> dict[str, np.ndarray]:
        """The bundle members (without the ``__atypicality__/`` prefix), float32."""
        return {
            "mean": np.ascontiguousarray(self.mean, np.float32),
            "precision": np.ascontiguousarray(self.precision, np.float32),
        }

    def runtime(self) -> dict[str, Any]:
        """The ``runtime`` JSON entry (``atypicality``)."""
        return {
            "method": METHOD,
            "percentiles": [round(float(v), 6) for v in self.percentiles],
            "atypical_above_percentile": ATYPICAL_PERCENTILE,
            **self.info,
        }

    @classmethod
    def of(cls, bundle: LoadedBundle) -> Reference | None:
        """The bundle's reference, or None when it was never calibrated (checked at load time)."""
        tensors, entry = bundle.atypicality, bundle.runtime.get("atypicality")
        if not tensors or not isinstance(entry, dict):
            return None
        info = {k: v for k, v in entry.items() if k not in ("percentiles", "method")}
        return cls(
            tensors["mean"],
            tensors["precision"],
            np.asarray(entry["percentiles"], np.float64),
            info,
        )


def reference_from(
    fit_embeddings: np.ndarray, reference_distances: np.ndarray, **info: Any
) -> Reference:
    """Statistics of ``fit_embeddings`` and the percentiles of held-out ``reference_distances``
    (distances computed against statistics the held-out photos were not part of)."""
    ref = np.asarray(reference_distances, np.float64)
    ref = ref[np.isfinite(ref)]
    if len(ref) < 2:
        raise ValueError("the atypicality reference needs at least 2 held-out photos")
    mean, precision, shrinkage = fit_statistics(fit_embeddings)
    return Reference(
        mean,
        precision,
        np.percentile(ref, LEVELS),
        {
            "n_fit": len(fit_embeddings),
            "n_reference": len(ref),
            "shrinkage": round(shrinkage, 6),
            **info,
        },
    )


def cross_fitted_distances(
    embeddings: np.ndarray, groups: Sequence[str], folds: int = CROSS_FIT_FOLDS, seed: int = 0
) -> np.ndarray:
    """Each photo's distance to statistics fitted without its patient's photos (``folds`` groups
    of patients): held-out distances when there is no separate validation set."""
    x = np.asarray(embeddings, np.float64)
    patients = sorted(set(groups))
    if len(patients) < 2:
        raise ValueError("cross-fitting needs photos of at least 2 patients")
    order = np.random.default_rng(seed).permutation(len(patients))
    fold_of = {patients[j]: i % min(folds, len(patients)) for i, j in enumerate(order)}
    fold = np.array([fold_of[g] for g in groups])
    out = np.full(len(x), np.nan)
    for k in np.unique(fold):
        held, fit = fold == k, fold != k
        if fit.sum() < 2:
            continue
        mean, precision, _ = fit_statistics(x[fit])
        out[held] = mahalanobis(x[held], mean, precision)
    return out
