"""The case on screen as one object: the photos screened for it, what of it is filed in the case
store, and the exports made from it. No Qt: the window owns one ``CaseSession`` and asks it
whether a new photo, New case or Quit would lose anything.

A case is one patient's visit. Its details (patient ID, age, sex, operator, notes) live in the
case panel; a photo's result keeps the details it was screened with, and every save or export
stamps the details on screen onto the results (the age must match: it changes what a model may
assess, so a new age means screening again).

The clinician's HPO terms live in the Differential panel; ``CaseFlow`` copies them here (and the
differential on screen, when it was ranked from exactly these results) before every question
and every Save, so that terms count as details a New case or Quit must not lose silently, and a
Save files them with the visit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.screening.results import CaseInfo, ScreeningResult


@dataclass
class ScreenedPhoto:
    """One photo of the case and its latest result (choosing a face or a heatmap method replaces
    the result; a new age screens it again)."""

    key: str  # the window's photo key
    source: str | bytes | np.ndarray  # a file path, or a frame's PNG bytes (camera, clipboard)
    result: ScreeningResult
    serial: int = 0  # which screening of the case this result came from
    manual: np.ndarray | None = None  # landmarks placed by hand (original pixels), if any
    photo_id: int | None = None  # its row in the case store, once filed

    def photo_bytes(self) -> bytes | None:
        """The photo as the store would keep it: the file's bytes, or a frame as PNG."""
        if isinstance(self.source, bytes):
            return self.source
        if isinstance(self.source, str):
            try:
                return Path(self.source).read_bytes()
            except OSError:
                return None
        import cv2

        ok, buf = cv2.imencode(".png", np.ascontiguousarray(self.source[..., ::-1]))
        return buf.tobytes() if ok else None


@dataclass(frozen=True)
class ExportDone:
    """A file written from the case, to record in the store once the case is filed."""

    kind: str
    path: str
    sha256: str


@dataclass
class CaseSession:
    """The current case: its screened photos, in the order they were opened, and its filing."""

    photos: dict[str, ScreenedPhoto] = field(default_factory=dict)
    case_uid: str | None = None  # set once the case is filed
    visit_uid: str | None = None
    filed_results: dict[str, int] = field(default_factory=dict)  # photo key -> serial filed
    filed_case: CaseInfo | None = None  # the details as last filed
    pending_exports: list[ExportDone] = field(default_factory=list)
    hpo_terms: tuple[tuple[str, str], ...] = ()  # (id, label) as entered, from the panel
    differential: Any = None  # the DifferentialResult ranked from exactly these results, or None
    filed_terms: tuple[tuple[str, str], ...] = ()  # the terms as last filed
    filed_differential: Any = None  # the differential Save last took care of (filed or refused)
    _serial: int = 0

    # -- photos --------------------------------------------------------------------------------

    def add(
        self,
        key: str,
        source: str | bytes | np.ndarray,
        result: ScreeningResult,
        manual: np.ndarray | None = None,
        photo_id: int | None = None,
    ) -> None:
        """Add a screened photo, or replace its result when it was screened again."""
        self._serial += 1
        old = self.photos.get(key)
        if photo_id is None and old is not None:
            photo_id = old.photo_id
        self.photos[key] = ScreenedPhoto(key, source, result, self._serial, manual, photo_id)

    def results(self, case: CaseInfo | None = None) -> list[ScreeningResult]:
        """The photos' results, in order; with ``case``, each carries those details."""
        out = [p.result for p in self.photos.values()]
        return out if case is None else [replace(r, case=case) for r in out]

    def stale(self, case: CaseInfo) -> list[ScreenedPhoto]:
        """Photos screened for another age than ``case``'s: they must be screened again."""
        return [p for p in self.photos.values() if p.result.case.age_months != case.age_months]

    # -- what would be lost --------------------------------------------------------------------

    def has_details(self, case: CaseInfo) -> bool:
        """Whether the case holds anything a clinician entered or screened (the operator, kept
        from the settings, does not count)."""
        return bool(
            self.photos
            or case.patient_id
            or case.age_months is not None
            or case.notes
            or case.sex != "unknown"
            or self.hpo_terms
        )

    def unfiled(self) -> list[ScreenedPhoto]:
        """Photos whose current result is not in the store."""
        return [p for p in self.photos.values() if self.filed_results.get(p.key) != p.serial]

    def dirty(self, case: CaseInfo) -> bool:
        """Something screened is not filed, or the details, the HPO terms or the differential
        changed since the case was filed."""
        if not self.photos:
            return False
        return (
            bool(self.unfiled())
            or (self.filed_case is not None and self.filed_case != case)
            or self.hpo_terms != self.filed_terms
            or (self.differential is not None and self.differential is not self.filed_differential)
        )

    def mark_filed(self, case: CaseInfo, case_uid: str, visit_uid: str) -> None:
        self.case_uid, self.visit_uid, self.filed_case = case_uid, visit_uid, case
        self.filed_results = {p.key: p.serial for p in self.photos.values()}
        self.filed_terms = self.hpo_terms
        if self.differential is not None:
            self.filed_differential = self.differential


def export_name(case: CaseInfo, suffix: str, day: date | None = None) -> str:
    """``screening-<patient ID, sanitised, or 'no-id'>-<YYYY-MM-DD><suffix>``: from this case only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", case.patient_id).strip("-") or "no-id"
    return f"screening-{stem}-{(day or date.today()).isoformat()}{suffix}"
