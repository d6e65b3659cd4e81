"""Reading the case store: finding cases, and a whole case with its results.

Lookups by patient ID are by design the only way in besides the random case uid: patient IDs
are pseudonymous, and the store keeps no names or birth dates to search by.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import date as Date
from pathlib import Path

from dysmorph_desk.errors import UsageError
from dysmorph_desk.records.audit import read_audit
from dysmorph_desk.records.base import StoreBase, iso_date
from dysmorph_desk.records.models import (
    AuditEntry,
    CaseRecord,
    CaseSummary,
    DifferentialRecord,
    ExportRecord,
    PhotoRecord,
    ResultRecord,
    VisitRecord,
    VisitResultRecord,
)

UID_PREFIX_MIN = 6
_SUMMARY = """
SELECT c.uid, c.patient_id, c.sex, c.birth_date, c.created,
    (SELECT COUNT(*) FROM visits v WHERE v.case_id = c.id),
    (SELECT COUNT(*) FROM photos p JOIN visits v ON v.id = p.visit_id WHERE v.case_id = c.id),
    (SELECT MAX(v.date) FROM visits v WHERE v.case_id = c.id)
FROM cases c
"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CaseReader(StoreBase):
    """The read side of the store (every method takes one consistent snapshot)."""

    def find_cases(
        self,
        query: str = "",
        date_from: Date | str | None = None,
        date_to: Date | str | None = None,
    ) -> list[CaseSummary]:
        """Cases whose patient ID contains ``query`` and with a visit in the date range.

        Args:
            query: Part of a (pseudonymous) patient ID; ``%`` and ``_`` match themselves;
                ASCII letters match either case. Empty: every case.
            date_from: Only cases with a visit on or after this date (``YYYY-MM-DD``).
            date_to: ... and on or before this one.

        Returns:
            Summaries, the most recently seen case first.
        """
        where: list[str] = []
        params: list[str] = []
        if query:
            where.append("c.patient_id LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escape(query)}%")
        visit_where = ["v.case_id = c.id"]
        if date_from is not None:
            visit_where.append("v.date >= ?")
            params.append(iso_date(date_from))
        if date_to is not None:
            visit_where.append("v.date <= ?")
            params.append(iso_date(date_to))
        if len(visit_where) > 1:
            where.append(f"EXISTS (SELECT 1 FROM visits v WHERE {' AND '.join(visit_where)})")
        return self._summaries(where, params)

    def cases_for_patient(self, patient_id: str) -> list[CaseSummary]:
        """The cases whose patient ID is exactly ``patient_id``."""
        return self._summaries(["c.patient_id = ?"], [patient_id])

    def _summaries(self, where: list[str], params: Sequence[str]) -> list[CaseSummary]:
        sql = _SUMMARY + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY COALESCE((SELECT MAX(v.date) FROM visits v WHERE v.case_id = c.id),"
        sql += " c.created) DESC, c.id DESC"
        with self._read() as conn:
            return [CaseSummary(*row) for row in conn.execute(sql, tuple(params))]

    def resolve_uid(self, ref: str) -> str:
        """The full uid of the case ``ref`` names: a uid, or a unique prefix of 6+ characters."""
        ref = ref.strip().lower()
        if len(ref) < UID_PREFIX_MIN or any(c not in "0123456789abcdef" for c in ref):
            raise UsageError(
                f"give a case UID, or a unique prefix of at least {UID_PREFIX_MIN} hex characters"
            )
        with self._read() as conn:
            rows = conn.execute(
                "SELECT uid FROM cases WHERE substr(uid, 1, ?) = ? LIMIT 2", (len(ref), ref)
            ).fetchall()
        if not rows:
            raise UsageError(f"no case {ref[:40]} in the case store")
        if len(rows) > 1:
            raise UsageError(f"{ref} matches several cases; give more of the UID")
        return str(rows[0][0])

    def get_case(self, uid: str) -> CaseRecord:
        """A whole case: visits (by date), photos, every result (JSON parsed) and exports."""
        with self._read() as conn:
            case_id = self._case_id(conn, uid)
            row = conn.execute(
                "SELECT uid, patient_id, sex, birth_date, created FROM cases WHERE id = ?",
                (case_id,),
            ).fetchone()
            visits = []
            for vid, vuid, vdate, age, operator, notes, study_uid, vcreated, terms in conn.execute(
                "SELECT id, uid, date, age_months, operator, notes, study_uid, created, hpo_terms"
                " FROM visits WHERE case_id = ? ORDER BY date, id",
                (case_id,),
            ).fetchall():
                photos = [
                    PhotoRecord(pid, sha, file, added, self._results(conn, pid))
                    for pid, sha, file, added in conn.execute(
                        "SELECT id, sha256, file, added FROM photos WHERE visit_id = ? ORDER BY id",
                        (vid,),
                    ).fetchall()
                ]
                fused = [
                    VisitResultRecord(i, json.loads(text), created)
                    for i, text, created in conn.execute(
                        "SELECT id, result_json, created FROM visit_results WHERE visit_id = ?"
                        " ORDER BY id",
                        (vid,),
                    )
                ]
                exports = [
                    ExportRecord(*e)
                    for e in conn.execute(
                        "SELECT kind, path, sha256, created FROM exports WHERE visit_id = ?"
                        " ORDER BY id",
                        (vid,),
                    )
                ]
                differentials = [
                    DifferentialRecord(i, json.loads(text), created)
                    for i, text, created in conn.execute(
                        "SELECT id, result_json, created FROM differentials WHERE visit_id = ?"
                        " ORDER BY id",
                        (vid,),
                    )
                ]
                visits.append(
                    VisitRecord(
                        vuid,
                        vdate,
                        age,
                        operator,
                        notes,
                        study_uid,
                        vcreated,
                        photos,
                        fused,
                        exports,
                        hpo_terms=json.loads(terms),
                        differentials=differentials,
                    )
                )
        uid_, patient_id, sex, birth_date, created = row
        return CaseRecord(uid_, patient_id, sex, birth_date, created, visits)

    @staticmethod
    def _results(conn: sqlite3.Connection, photo_id: int) -> list[ResultRecord]:
        return [
            ResultRecord(i, name, sha, json.loads(text), created)
            for i, name, sha, text, created in conn.execute(
                "SELECT id, bundle_name, bundle_sha256, result_json, created FROM results"
                " WHERE photo_id = ? ORDER BY id",
                (photo_id,),
            )
        ]

    def photo_path(self, photo: PhotoRecord) -> Path | None:
        """Where a kept photo's file is; None when only its hash was kept."""
        return None if photo.file is None else self.photos_dir / photo.file

    def audit_log(self, case_uid: str | None = None) -> list[AuditEntry]:
        """The audit rows, all or one case's (also a deleted one's), oldest first."""
        with self._read() as conn:
            return read_audit(conn, case_uid)
