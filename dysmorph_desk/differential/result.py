"""The differential of one photo or visit: what the CLI prints, the app shows, the PDF and JSON carry.

A :class:`DifferentialResult` keeps the ranked candidates (:class:`~.fusion.DifferentialRow`) with
everything a reader needs to judge them: which gallery (its SHA-256, size and the bundle its
embeddings came from), whether anything in it was close at all ("no close match" beyond the
threshold calibrated on unrelated children, with that threshold's false-match rate, interval and
n), the HPO terms as entered and as resolved (obsolete ids mapped to their replacements), the HPO
release, and the fusion weights with where they were fitted. Gallery entries appear by entry
number and disorder only: never another child's patient id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dysmorph_desk.differential.fusion import DifferentialRow, FusionWeights
from dysmorph_desk.gallery.model import distance_text
from dysmorph_desk.gallery.ranking import DEFAULT_K
from dysmorph_desk.utils.intervals import Rate

__all__ = [
    "DIFFERENTIAL_DISCLAIMER",
    "DifferentialResult",
    "GalleryFacts",
    "HpoTerm",
    "distance_text",
]

DIFFERENTIAL_DISCLAIMER = (
    "Candidate disorders to consider, ranked by facial similarity to a clinic gallery and by the "
    "entered phenotype terms. A screening aid, not a diagnosis: confirm with a clinical geneticist "
    "and genetic testing."
)


@dataclass(frozen=True)
class GalleryFacts:
    """What identifies the gallery a differential was ranked against."""

    sha256: str
    entries: int
    disorders: int
    bundle: str
    status: str = "demonstration"
    aggregate: str = "nearest"
    threshold: float | None = None  # the "no close match" cosine distance
    false_match_k: int | None = None  # unrelated children matched (counted as the estimate says)
    false_match_n: int | None = None  # of the children the threshold was calibrated on
    false_match_estimate: str = (
        "in-sample"  # or "leave-one-out": each against a threshold set without it
    )
    signature: str = "unsigned"  # the gallery's signature as verified: "signed by ..." or not
    verified: bool = False  # signed by a trusted key, and the signature matches
    k: int = DEFAULT_K  # the patients ``mean-k`` averages

    @property
    def false_match_basis(self) -> str:
        """How :attr:`false_match` was counted, as the report and the app say it."""
        if self.false_match_estimate == "leave-one-out":
            return "each against a threshold set without it"
        return "in-sample, so optimistic"

    @property
    def false_match(self) -> Rate | None:
        """Unrelated children matched within the threshold, k of n with its interval."""
        if not self.false_match_n:
            return None
        return Rate.of(int(self.false_match_k or 0), int(self.false_match_n))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sha256": self.sha256,
            "entries": self.entries,
            "disorders": self.disorders,
            "bundle": self.bundle,
            "status": self.status,
            "aggregate": self.aggregate,
            "no_match_threshold": None if self.threshold is None else round(self.threshold, 6),
            "signature": self.signature,
        }
        rate = self.false_match
        if rate is not None:  # on the calibration children (evaluate-gallery: held out)
            data["false_match_rate"] = {
                **rate.to_json(),
                "estimate": self.false_match_estimate,
                "in_sample": self.false_match_estimate == "in-sample",
            }
        return data


@dataclass(frozen=True)
class HpoTerm:
    """An entered term as resolved: its id, label, and the id it was entered as if obsolete."""

    id: str
    label: str
    entered_as: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "label": self.label}
        if self.entered_as:
            data["entered_as"] = self.entered_as
        return data


@dataclass(frozen=True)
class DifferentialResult:
    """The ranked differential of one photo or visit and the inputs it was ranked from."""

    rows: list[DifferentialRow]
    gallery: GalleryFacts | None = None
    hpo_terms: list[HpoTerm] = field(default_factory=list)
    hpo_release: str | None = None
    nearest_distance: float | None = None
    weights: FusionWeights = field(default_factory=FusionWeights)
    notes: list[str] = field(default_factory=list)
    photos_used: int = 1  # a visit's embedding is the mean of its assessable photos'

    @property
    def no_close_match(self) -> bool:
        """True when the gallery's nearest entry lies beyond its calibrated threshold."""
        g = self.gallery
        return bool(
            g is not None
            and g.threshold is not None
            and self.nearest_distance is not None
            and self.nearest_distance > g.threshold
        )

    def context_json(self) -> dict[str, Any]:
        """Everything but the rows: ``differential_context`` of the screening document."""
        return {
            "disclaimer": DIFFERENTIAL_DISCLAIMER,
            "gallery": None if self.gallery is None else self.gallery.to_json(),
            "no_close_match": self.no_close_match,
            "nearest_distance": None
            if self.nearest_distance is None
            else round(self.nearest_distance, 6),
            "photos_used": self.photos_used,
            "hpo_terms": [t.to_json() for t in self.hpo_terms],
            "hpo_release": self.hpo_release,
            "fusion": {
                "method": "logistic combination of gestalt similarity (1 - d/2) and "
                "phenotype score / best score (Resnik, funSimAvg)",
                **self.weights.to_json(),
            },
            "notes": list(self.notes),
        }

    def rows_json(self) -> list[dict[str, Any]]:
        """The ``differential`` list of the screening document."""
        return [r.to_json() for r in self.rows]
