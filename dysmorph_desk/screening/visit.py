"""One visit, several photos: one fused result per model.

The seed studies photographed each child several times, and a clinic often takes two or three
frontal photos at a visit. Each photo is screened on its own (its result is kept and shown); the
visit's result per model is then the softmax of the **mean of the assessable photos' logits**
(at the model's temperature). Why the mean of logits rather than of probabilities or a vote:

* it is what the model's own scale adds up: averaging logits is averaging log-odds, so two photos
  at 0.9 and 0.5 give 0.75 rather than letting one extreme photo dominate (as a max would) or
  turning a near-threshold photo into a full vote;
* it matches how test-time averaging over variants of one photo is usually done, so a visit of one
  photo gives exactly that photo's result.

Photos a model could not assess (quality, age, invalid numbers) do not enter its mean; when none of
them could, the visit cannot be assessed by that model either, with the photos' reasons. When the
photos of one visit disagree (one flagged, another not), the visit result says so: the fused value
alone would hide it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.screening.results import ScreeningResult, probabilities_json, round6

FUSION = "mean of the assessable photos' logits, then softmax at the model's temperature"


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / max(float(temperature), 1e-6)
    z = np.exp(z - z.max())
    return z / z.sum()


@dataclass
class ModelVisitResult:
    """One model's answer for the whole visit."""

    model: str
    card: ModelCard
    bundle_sha256: str
    photos_assessed: int
    photos_total: int
    probabilities: dict[str, float] | None
    syndromic_probability: float | None
    flagged: bool | None
    assessable: bool
    cannot_assess_reason: str | None = None
    photos_disagree: bool = False
    per_photo: list[float | None] = field(default_factory=list)  # syndromic probability per photo

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def to_json(self) -> dict[str, Any]:
        rnd = round6
        return {
            "model": self.model,
            "model_status": self.card.status,
            "bundle_sha256": self.bundle_sha256,
            "photos_assessed": self.photos_assessed,
            "photos_total": self.photos_total,
            "probabilities": probabilities_json(self.probabilities),
            "syndromic_probability": rnd(self.syndromic_probability),
            "threshold": self.threshold,
            "flagged": self.flagged,
            "assessable": self.assessable,
            "cannot_assess_reason": self.cannot_assess_reason,
            "photos_disagree": self.photos_disagree,
            "per_photo_syndromic_probability": [rnd(v) for v in self.per_photo],
        }


@dataclass
class VisitResult:
    """The fused result of a visit's photos (per model), with the warnings a clinician must see."""

    photo_sha256s: list[str]
    models: list[ModelVisitResult]
    warnings: list[str]
    fusion: str = FUSION

    def to_json(self) -> dict[str, Any]:
        return {
            "photos": len(self.photo_sha256s),
            "photo_sha256s": list(self.photo_sha256s),
            "fusion": self.fusion,
            "results": [m.to_json() for m in self.models],
            "warnings": list(self.warnings),
        }


def fuse_visit(results: list[ScreeningResult]) -> VisitResult:
    """Fuse the screened photos of one visit into one result per model.

    Args:
        results: the photos' results, all screened with the same bundles (refused photos are not
            in the list: they have no result).

    Returns:
        A ``VisitResult`` whose models are in the order of the first photo's results.

    Raises:
        ValueError: no results, or the photos were screened with different bundles.

    Example:
        >>> visit = fuse_visit([screener.screen(p, case) for p in photos])  # doctest: +SKIP
        >>> visit.models[0].flagged, visit.models[0].photos_disagree  # doctest: +SKIP
    """
    if not results:
        raise ValueError("a visit needs at least one screened photo")
    keys = [(r.model, r.bundle_sha256) for r in results[0].results]
    for other in results[1:]:
        if [(r.model, r.bundle_sha256) for r in other.results] != keys:
            raise ValueError("the photos of a visit must be screened with the same bundles")
    models: list[ModelVisitResult] = []
    warnings: list[str] = []
    for i, (name, sha) in enumerate(keys):
        per = [res.results[i] for res in results]
        card = per[0].card
        usable = [r for r in per if r.assessable and r.logits is not None]
        base: dict[str, Any] = {
            "model": name,
            "card": card,
            "bundle_sha256": sha,
            "photos_assessed": len(usable),
            "photos_total": len(per),
            "per_photo": [r.syndromic_probability if r.assessable else None for r in per],
        }
        if not usable:
            reasons = sorted({r.cannot_assess_reason or "not assessable" for r in per})
            models.append(
                ModelVisitResult(
                    **base,
                    probabilities=None,
                    syndromic_probability=None,
                    flagged=None,
                    assessable=False,
                    cannot_assess_reason="no photo of the visit could be assessed: "
                    + "; ".join(reasons),
                )
            )
            continue
        mean = np.mean(np.stack([np.asarray(r.logits, np.float64) for r in usable]), axis=0)
        probs = _softmax(mean, card.temperature)
        synd = float(sum(probs[j] for j in card.syndromic_indices))
        flags = {bool(r.flagged) for r in usable}
        disagree = len(flags) > 1
        if disagree:
            warnings.append(
                f"{name}: the photos of this visit disagree (flagged on "
                f"{sum(bool(r.flagged) for r in usable)} of {len(usable)}); review each photo"
            )
        if len(usable) < len(per):
            warnings.append(
                f"{name}: {len(per) - len(usable)} of {len(per)} photos could not be assessed "
                "and are not in the visit result"
            )
        models.append(
            ModelVisitResult(
                **base,
                probabilities={c: float(p) for c, p in zip(card.class_ids, probs, strict=True)},
                syndromic_probability=synd,
                flagged=synd >= card.threshold,
                assessable=True,
                photos_disagree=disagree,
            )
        )
    return VisitResult([r.photo_sha256 for r in results], models, warnings)
