"""The JSON document of a screening run (schema version 2): one shape whatever the photo count.

``{"schema_version": 2, "software_version", "created", "disclaimer", "photos": [...],
"refused": [...], "visit": null | {...}}`` — ``photos`` holds one object per screened photo
(``ScreeningResult.to_json``), ``refused`` the photos that could not be screened (their position
and the reason, never their name unless asked), and ``visit`` the fused result when the photos are
one visit (``screening.visit``). Round 1's single-photo object and its array for batches are gone:
a reader handles one shape. The JSON Schema is ``docs/schema/screening-v2.schema.json``; later
issues add fields under the same version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dysmorph_desk import __version__
from dysmorph_desk.bundles.cards import DEFAULT_PREVALENCE
from dysmorph_desk.screening.results import DISCLAIMER, SCHEMA_VERSION, ScreeningResult
from dysmorph_desk.screening.visit import VisitResult


@dataclass(frozen=True)
class RefusedPhoto:
    """A photo of the run that could not be screened."""

    index: int  # 1-based position among the photos given
    reason: str
    photo_name: str | None = None  # only with --include-photo-name

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"photo": self.index, "reason": self.reason}
        if self.photo_name is not None:
            data["photo_name"] = self.photo_name
        return data


def screening_document(
    photos: list[ScreeningResult],
    *,
    refused: list[RefusedPhoto] | None = None,
    visit: VisitResult | None = None,
    prevalence: float = DEFAULT_PREVALENCE,
    differential: Any = None,
) -> dict[str, Any]:
    """The schema-2 document for a run's photos (what ``--json`` writes and the store keeps).

    Args:
        photos: the screened photos, in the order given.
        refused: the photos that were refused, with their reasons.
        visit: the fused visit result when the photos are one visit (``screen --visit``).
        prevalence: the clinic's prevalence, for the PPV/NPV ranges (``report.prevalence``).
        differential: a ``differential.result.DifferentialResult`` (``--gallery``/``--hpo``):
            adds ``differential`` (the ranked candidates) and ``differential_context``.

    Example:
        >>> doc = screening_document([result])  # doctest: +SKIP
        >>> doc["schema_version"], len(doc["photos"]), doc["visit"]  # doctest: +SKIP
        (2, 1, None)
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "software_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
        "photos": [p.to_json(prevalence) for p in photos],
        "refused": [r.to_json() for r in refused or []],
        "visit": None if visit is None else visit.to_json(),
        **(
            {}
            if differential is None
            else {
                "differential": differential.rows_json(),
                "differential_context": differential.context_json(),
            }
        ),
    }
