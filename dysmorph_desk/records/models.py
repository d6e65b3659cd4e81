"""What the case store hands out: plain, immutable-by-convention records (no SQL, no Qt).

The UI, the ``cases`` command and the exporters (JSON, CSV, FHIR, DICOM) all read these, so a
column added to the store appears in one place. ``to_json`` gives the JSON export's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# a case's own fields, in the order the JSON export gives them (a case list's line and a whole case)
_CASE_KEYS = ("uid", "patient_id", "sex", "birth_date", "created")


def _pick(record: object, keys: tuple[str, ...]) -> dict[str, Any]:
    """The fields ``keys`` of ``record``, in that order (the JSON export's key order)."""
    return {key: getattr(record, key) for key in keys}


@dataclass(frozen=True)
class CaseSummary:
    """One line of a case list: enough to pick a case without loading its results."""

    uid: str
    patient_id: str
    sex: str
    birth_date: str | None
    created: str
    visit_count: int
    photo_count: int
    last_visit: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            **_pick(self, _CASE_KEYS),
            "visits": self.visit_count,
            "photos": self.photo_count,
            "last_visit": self.last_visit,
        }


@dataclass(frozen=True)
class ResultRecord:
    """One model's result on one photo, as filed. Re-screening adds a record; none is changed."""

    id: int
    bundle_name: str
    bundle_sha256: str
    result: dict[str, Any]
    created: str

    def to_json(self) -> dict[str, Any]:
        return _pick(self, ("bundle_name", "bundle_sha256", "created", "result"))


@dataclass(frozen=True)
class PhotoRecord:
    """A photo of a visit: its hash always; ``file`` (relative to ``photos/``) if it was kept."""

    id: int
    sha256: str
    file: str | None
    added: str
    results: list[ResultRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "kept": self.file is not None,
            "added": self.added,
            "results": [r.to_json() for r in self.results],
        }


@dataclass(frozen=True)
class VisitResultRecord:
    """A visit-level result (the fusion of a visit's photos), as filed."""

    id: int
    result: dict[str, Any]
    created: str

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "result": self.result}


@dataclass(frozen=True)
class DifferentialRecord:
    """A differential filed for a visit (``records.visit_phenotype``): ``result`` holds
    ``photos`` (the SHA-256 of each photo it was ranked from), ``differential`` (the ranked rows)
    and ``differential_context`` (gallery, HPO terms, release, weights, disclaimer)."""

    id: int
    result: dict[str, Any]
    created: str

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, **self.result}


@dataclass(frozen=True)
class ExportRecord:
    """A file written from a visit (pdf, json, fhir, dicom, csv): where, and its hash then."""

    kind: str
    path: str
    sha256: str
    created: str

    def to_json(self) -> dict[str, Any]:
        return _pick(self, ("kind", "path", "sha256", "created"))


@dataclass(frozen=True)
class VisitRecord:
    """One visit: the photos taken then, their results, and what was exported from it.

    ``study_uid`` is a DICOM UID (``2.25.<uuid as an integer>``) made once per visit, so every
    DICOM export of the visit belongs to the same study. ``hpo_terms`` are the clinician's HPO
    terms (``{"id", "label"}``, in the order entered); ``differentials`` the differentials filed
    for exactly the visit's photos, oldest first.
    """

    uid: str
    date: str
    age_months: float | None
    operator: str
    notes: str
    study_uid: str
    created: str
    photos: list[PhotoRecord] = field(default_factory=list)
    visit_results: list[VisitResultRecord] = field(default_factory=list)
    exports: list[ExportRecord] = field(default_factory=list)
    hpo_terms: list[dict[str, str]] = field(default_factory=list)
    differentials: list[DifferentialRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            **_pick(
                self, ("uid", "date", "age_months", "operator", "notes", "study_uid", "created")
            ),
            "hpo_terms": [dict(t) for t in self.hpo_terms],
            "photos": [p.to_json() for p in self.photos],
            "visit_results": [v.to_json() for v in self.visit_results],
            "differentials": [d.to_json() for d in self.differentials],
            "exports": [e.to_json() for e in self.exports],
        }


@dataclass(frozen=True)
class CaseRecord:
    """A whole case: the pseudonymous patient and every visit, oldest first."""

    uid: str
    patient_id: str
    sex: str
    birth_date: str | None
    created: str
    visits: list[VisitRecord] = field(default_factory=list)

    @property
    def photos(self) -> list[PhotoRecord]:
        return [p for v in self.visits for p in v.photos]

    def to_json(self) -> dict[str, Any]:
        return {**_pick(self, _CASE_KEYS), "visits": [v.to_json() for v in self.visits]}


@dataclass(frozen=True)
class AuditEntry:
    """One line of the append-only audit log. Never holds a patient ID or free text."""

    id: int
    ts: str
    operator: str
    action: str
    case_uid: str
    photo_sha256: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return _pick(self, ("ts", "operator", "action", "case_uid", "photo_sha256", "detail"))


@dataclass(frozen=True)
class DeletionReport:
    """What deleting a case removed; ``problems`` lists what could not be (already logged)."""

    case_uid: str
    visits: int
    photos: int
    files_removed: int
    cache_files_removed: int
    problems: tuple[str, ...] = ()
