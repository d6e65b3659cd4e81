"""The local case store: SQLite (``cases.sqlite``) plus the kept photos, named by their SHA-256.

Why it is built this way:

* One writer at a time, whole or nothing. Every change runs in a ``BEGIN IMMEDIATE`` transaction
  (WAL, ``synchronous=FULL``): a filing, a deletion or a migration either commits whole or leaves
  the store as it was, and a second DysmorphDesk waits up to 10 s, then gets "busy".
* Photo files before rows. A photo is written (fsynced, atomically renamed) inside the write
  transaction and *before* the row naming it commits, so a committed row never names a missing
  file. A crash can only leave a file no row names; ``vacuum_orphans`` (run on open, under the
  write lock so no other writer is mid-filing) removes those.
* Nothing is overwritten. Results are never updated: screening again adds a row.
* Errors are one line. Any SQLite or file error becomes a ``StoreError`` (exit 2) saying
  busy / read-only / full / damaged / newer; the store is left unchanged.

Protection at rest is the disk's and the OS account's: the folder is 0700 and the files 0600,
and there is no encryption of its own (docs/records.md). Opening and transactions are in
``records.base``, lookups in ``records.reader``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dysmorph_desk.errors import OutputError, StoreError, UsageError
from dysmorph_desk.records import db
from dysmorph_desk.records.audit import now, write_audit
from dysmorph_desk.records.base import DB_NAME, PHOTOS_DIR, iso_date
from dysmorph_desk.records.deleters import forget_cached_faces, run_deleters
from dysmorph_desk.records.models import DeletionReport
from dysmorph_desk.records.reader import UID_PREFIX_MIN, CaseReader
from dysmorph_desk.records.schema import EXPORT_KINDS
from dysmorph_desk.records.visit_phenotype import (
    Term,
    check_photos,
    clean_terms,
    differential_json,
)
from dysmorph_desk.utils.atomic import write_bytes_atomic
from dysmorph_desk.utils.inputs import NOTES_MAX, clean_text

if TYPE_CHECKING:
    from dysmorph_desk.screening.results import CaseInfo, ScreeningResult

__all__ = ["DB_NAME", "PHOTOS_DIR", "UID_PREFIX_MIN", "CaseStore", "photo_extension"]

log = logging.getLogger(__name__)

_MAGIC = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"GIF8", ".gif"),
    (b"BM", ".bmp"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1"}


def photo_extension(data: bytes) -> str:
    """The file extension of an image's real format (by its magic bytes), ``.img`` if unknown.

    The user's file name is never used: it may carry the patient's name.
    """
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[4:8] == b"ftyp":
        if data[8:12] in _HEIF_BRANDS:
            return ".heic"
        if data[8:12] == b"avif":
            return ".avif"
    return ".img"


def _dumps(obj: Any) -> str:
    """Strict JSON: a NaN or infinity is a bug upstream and must not be filed as valid-looking."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def _check_sha(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("a photo's SHA-256 must be 64 lowercase hex digits")
    return sha256


def result_rows(result: ScreeningResult) -> list[tuple[str, str, dict[str, Any]]]:
    """One (bundle, bundle hash, JSON) per model: the photo's document with that model's result."""
    doc = result.to_json()
    if not result.results:
        return [("", "", doc)]
    return [
        (r.model, r.bundle_sha256, {**doc, "results": [entry]})
        for r, entry in zip(result.results, doc["results"], strict=True)
    ]


class CaseStore(CaseReader):
    """The case store in one folder; a context manager that closes the database on exit.

    Opening creates the folder (0700), ``cases.sqlite`` (0600) and ``photos/`` (0700) when
    missing, migrates an older schema, and removes photo files left by a crash. It refuses, with
    a :class:`StoreError` and without changing anything, a store that is read-only, damaged, or
    written by a newer DysmorphDesk.

    Args:
        path: The store's folder; ``utils.paths.store_dir()`` when None.
        busy_timeout: How long (seconds) to wait for another DysmorphDesk's write to end before
            giving up with "busy".

    Attributes:
        journal_note: Set when the store cannot use WAL (a network share): one sentence the UI
            can show; None on a local disk.

    Example:
        >>> with CaseStore() as store:  # doctest: +SKIP
        ...     case_uid, visit_uid = store.file_screening(case, [(data, result)], None, "Dr. A")
        ...     record = store.get_case(case_uid)
    """

    # ------------------------------------------------------------------ filing

    def open_or_create_case(self, case: CaseInfo, operator: str = "") -> str:
        """The uid of the case to file ``case`` under, creating one when none matches.

        Never a silent merge: an existing case is used only when its patient ID is exactly the
        same (and not empty) *and* its sex is the same; anything else starts a new case.
        """
        with self._write() as conn:
            if case.patient_id:
                row = conn.execute(
                    "SELECT uid FROM cases WHERE patient_id = ? AND sex = ? ORDER BY id LIMIT 1",
                    (case.patient_id, case.sex),
                ).fetchone()
                if row is not None:
                    return str(row[0])
            uid = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO cases (uid, patient_id, sex, created) VALUES (?, ?, ?, ?)",
                (uid, case.patient_id, case.sex, now()),
            )
            write_audit(conn, "created", uid, operator or case.operator, detail="case created")
            return uid

    def add_visit(
        self,
        case_uid: str,
        case: CaseInfo,
        date: Date | str | None = None,
        hpo_terms: Iterable[Term] = (),
    ) -> str:
        """A new visit of the case (age, operator, notes from ``case``; the clinician's HPO terms,
        see ``records.visit_phenotype.clean_terms``); its uid."""
        visit_date = iso_date(date)
        terms = _dumps(clean_terms(hpo_terms))
        with self._write() as conn:
            case_id = self._case_id(conn, case_uid)
            uid = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO visits (uid, case_id, date, age_months, operator, notes, study_uid,"
                " created, hpo_terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uid,
                    case_id,
                    visit_date,
                    case.age_months,
                    case.operator,
                    case.notes,
                    f"2.25.{uuid.uuid4().int}",  # a DICOM study UID, fixed for the visit
                    now(),
                    terms,
                ),
            )
            return uid

    def add_photo(
        self, visit_uid: str, photo_bytes: bytes | None, sha256: str, keep_photo: bool
    ) -> int:
        """Add a photo to a visit; its file (if kept) is on disk before its row commits.

        Args:
            visit_uid: The visit.
            photo_bytes: The photo as read, or None when only the hash is known.
            sha256: The photo's SHA-256 (checked against ``photo_bytes``).
            keep_photo: Keep the file (``photos/ab/abcd….jpg``, 0600); False keeps the hash only.
        """
        sha = _check_sha(sha256)
        if photo_bytes is not None and hashlib.sha256(photo_bytes).hexdigest() != sha:
            raise ValueError("the photo's bytes do not match its SHA-256")
        with self._write() as conn:
            visit_id, _ = self._visit(conn, visit_uid)
            rel = self._store_file(sha, photo_bytes) if keep_photo and photo_bytes else None
            cur = conn.execute(
                "INSERT INTO photos (visit_id, sha256, file, added) VALUES (?, ?, ?, ?)",
                (visit_id, sha, rel, now()),
            )
            return int(cur.lastrowid or 0)

    def _store_file(self, sha: str, data: bytes) -> str:
        """Write a photo under its hash (inside the write transaction, before its row)."""
        rel = f"{sha[:2]}/{sha}{photo_extension(data)}"
        target = self.photos_dir / rel
        if target.is_file():  # the same photo, filed before: content-addressed, shared
            return rel
        self._make_folder(target.parent)
        try:
            write_bytes_atomic(target, data, force=True, sync_dir=True)
            self._new_files.append(target)
            os.chmod(target, 0o600)
        except OutputError as exc:
            cause = exc.__cause__
            raise (
                db.os_error(cause) if isinstance(cause, OSError) else StoreError(str(exc))
            ) from exc
        except OSError as exc:
            raise db.os_error(exc) from exc
        return rel

    def add_result(
        self,
        photo_id: int,
        bundle_name: str,
        bundle_sha256: str,
        result_json: dict[str, Any],
        operator: str = "",
    ) -> int:
        """File one model's result on a photo (a new row, also when re-screening); audited."""
        text = _dumps(result_json)
        with self._write() as conn:
            row = conn.execute(
                "SELECT p.sha256, c.uid FROM photos p JOIN visits v ON v.id = p.visit_id"
                " JOIN cases c ON c.id = v.case_id WHERE p.id = ?",
                (photo_id,),
            ).fetchone()
            if row is None:
                raise UsageError(f"no photo {photo_id} in the case store")
            cur = conn.execute(
                "INSERT INTO results (photo_id, bundle_name, bundle_sha256, result_json, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (photo_id, bundle_name, bundle_sha256, text, now()),
            )
            write_audit(conn, "screened", row[1], operator, row[0], f"model {bundle_name}")
            return int(cur.lastrowid or 0)

    def add_visit_result(self, visit_uid: str, result_json: dict[str, Any]) -> int:
        """File a visit-level result (the fusion of the visit's photos)."""
        text = _dumps(result_json)
        with self._write() as conn:
            visit_id, _ = self._visit(conn, visit_uid)
            cur = conn.execute(
                "INSERT INTO visit_results (visit_id, result_json, created) VALUES (?, ?, ?)",
                (visit_id, text, now()),
            )
            return int(cur.lastrowid or 0)

    def add_export(
        self, visit_uid: str, kind: str, path: str | Path, sha256: str, operator: str = ""
    ) -> int:
        """Remember a file written from a visit; audited as exported (the kind, not the path)."""
        if kind not in EXPORT_KINDS:
            raise ValueError(f"export kind must be one of {', '.join(EXPORT_KINDS)}")
        with self._write() as conn:
            visit_id, case_uid = self._visit(conn, visit_uid)
            cur = conn.execute(
                "INSERT INTO exports (visit_id, kind, path, sha256, created) VALUES (?, ?, ?, ?, ?)",
                (visit_id, kind, str(path), sha256, now()),
            )
            write_audit(conn, "exported", case_uid, operator, detail=f"{kind} of visit {visit_uid}")
            return int(cur.lastrowid or 0)

    def record_case_export(
        self, case_uid: str, kind: str, path: str | Path, sha256: str, operator: str = ""
    ) -> int:
        """Remember a file written from a whole case: an export row per visit, one transaction."""
        with self._write() as conn:
            case_id = self._case_id(conn, case_uid)
            visits = [
                r[0] for r in conn.execute("SELECT uid FROM visits WHERE case_id = ?", (case_id,))
            ]
            for visit_uid in visits:
                self.add_export(visit_uid, kind, path, sha256, operator)
            return len(visits)

    def update_visit_notes(self, visit_uid: str, notes: str, operator: str = "") -> None:
        """Replace a visit's notes; audited as edited (the audit does not keep the notes)."""
        notes = clean_text(notes, NOTES_MAX, "notes", multiline=True)
        with self._write() as conn:
            visit_id, case_uid = self._visit(conn, visit_uid)
            conn.execute("UPDATE visits SET notes = ? WHERE id = ?", (notes, visit_id))
            write_audit(conn, "edited", case_uid, operator, detail=f"notes of visit {visit_uid}")

    def set_visit_terms(
        self, visit_uid: str, hpo_terms: Iterable[Term], operator: str = ""
    ) -> bool:
        """Replace a visit's HPO terms; audited as edited (without the terms). False if unchanged.

        The terms describe the child at that visit, so they are the visit's to change (like its
        notes); the differentials filed with the terms they were ranked from stay as they were.
        """
        terms = _dumps(clean_terms(hpo_terms))
        with self._write() as conn:
            visit_id, case_uid = self._visit(conn, visit_uid)
            (old,) = conn.execute(
                "SELECT hpo_terms FROM visits WHERE id = ?", (visit_id,)
            ).fetchone()
            if old == terms:
                return False
            conn.execute("UPDATE visits SET hpo_terms = ? WHERE id = ?", (terms, visit_id))
            write_audit(
                conn, "edited", case_uid, operator, detail=f"HPO terms of visit {visit_uid}"
            )
            return True

    def add_differential(
        self, visit_uid: str, differential: Any, photo_sha256s: Sequence[str], operator: str = ""
    ) -> int:
        """File a differential ranked for exactly this visit's photos (a new row; never updated).

        Args:
            visit_uid: The visit.
            differential: A ``DifferentialResult`` (``rows_json``, ``context_json``).
            photo_sha256s: The SHA-256 of each photo it was ranked from; must be exactly the
                visit's photos (``visit_phenotype.check_photos``), or nothing is filed.
            operator: Who files it (the audit: ``screened``, "differential of visit …").

        Raises:
            ValueError: the photos are not the visit's (or not SHA-256 digests).
        """
        text = _dumps(differential_json(differential, photo_sha256s))
        with self._write() as conn:
            visit_id, case_uid = self._visit(conn, visit_uid)
            filed = [
                r[0]
                for r in conn.execute("SELECT sha256 FROM photos WHERE visit_id = ?", (visit_id,))
            ]
            check_photos(photo_sha256s, filed)
            cur = conn.execute(
                "INSERT INTO differentials (visit_id, result_json, created) VALUES (?, ?, ?)",
                (visit_id, text, now()),
            )
            write_audit(
                conn, "screened", case_uid, operator, detail=f"differential of visit {visit_uid}"
            )
            return int(cur.lastrowid or 0)

    def record_opened(self, case_uid: str, operator: str = "") -> None:
        """Audit that someone opened (viewed) a case."""
        with self._write() as conn:
            self._case_id(conn, case_uid)
            write_audit(conn, "opened", case_uid, operator)

    def file_screening(
        self,
        case: CaseInfo,
        photos: list[tuple[bytes | None, ScreeningResult]],
        visit_json: dict[str, Any] | None,
        operator: str = "",
        date: Date | str | None = None,
        *,
        hpo_terms: Iterable[Term] = (),
        differential: Any = None,
    ) -> tuple[str, str]:
        """File one visit's screening in one transaction: case, visit, photos, results, and the
        clinician's HPO terms and the differential when there are.

        Args:
            case: Who was screened; filed under an existing case only on an exact patient-ID
                and sex match (:meth:`open_or_create_case`).
            photos: (photo bytes, or None to keep only the hash; its screening result) pairs.
            visit_json: The visit-level result (fusion), if any.
            operator: Who files it (the audit); defaults to ``case.operator``.
            date: The visit date; today when None.
            hpo_terms: The HPO terms entered for the visit, (id, label) pairs.
            differential: A ``DifferentialResult`` ranked from exactly ``photos`` (their
                results, in this order), filed with their hashes; None: none.

        Returns:
            (case uid, visit uid). On any failure nothing is filed and no photo file is left.

        Example:
            >>> store.file_screening(CaseInfo("P-17", 30.0, "female"), [(data, result)], None)
            ...  # doctest: +SKIP
        """
        who = operator or case.operator
        with self._write():
            case_uid = self.open_or_create_case(case, who)
            visit_uid = self.add_visit(case_uid, case, date, hpo_terms)
            for data, result in photos:
                photo_id = self.add_photo(visit_uid, data, result.photo_sha256, data is not None)
                for name, sha, payload in result_rows(result):
                    self.add_result(photo_id, name, sha, payload, who)
            if visit_json is not None:
                self.add_visit_result(visit_uid, visit_json)
            if differential is not None:
                shas = [result.photo_sha256 for _, result in photos]
                self.add_differential(visit_uid, differential, shas, who)
        log.info("filed visit %s of case %s (%d photo(s))", visit_uid, case_uid, len(photos))
        return case_uid, visit_uid

    # ------------------------------------------------------------------ erasing

    def delete_case(self, uid: str, operator: str = "") -> DeletionReport:
        """Delete a case everywhere (the one deletion rule of docs/records.md).

        Removes its rows (visits, photos, results, exports: cascade), then its photo files
        (unless the same photo is still filed in another case), its cached faces and what
        registered deleters keep. The audit gains a row naming the case uid, never the patient.
        """
        with self._write() as conn:
            case_id = self._case_id(conn, uid)
            (visits,) = conn.execute(
                "SELECT COUNT(*) FROM visits WHERE case_id = ?", (case_id,)
            ).fetchone()
            photos = conn.execute(
                "SELECT p.sha256, p.file FROM photos p JOIN visits v ON v.id = p.visit_id"
                " WHERE v.case_id = ?",
                (case_id,),
            ).fetchall()
            conn.execute("DELETE FROM cases WHERE id = ?", (case_id,))
            detail = f"case deleted: {visits} visit(s), {len(photos)} photo(s)"
            write_audit(conn, "deleted", uid, operator, detail=detail)
        with suppress(sqlite3.Error):  # the old pages' copies in the WAL go too (best effort)
            self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        problems: list[str] = []
        removed = self._remove_unreferenced(sorted({f for _, f in photos if f}), problems)
        shas = sorted({s for s, _ in photos})
        cached, cache_problems = forget_cached_faces(shas)
        problems += cache_problems + run_deleters(uid, shas)
        log.info("deleted case %s: %d photo file(s), %d cached face(s)", uid, removed, cached)
        return DeletionReport(uid, visits, len(photos), removed, cached, tuple(problems))

    def _remove_unreferenced(self, files: list[str], problems: list[str]) -> int:
        """Unlink photo files no row names, under the write lock (no filing is mid-way)."""
        removed = 0
        try:
            with self._write() as conn:
                for rel in files:
                    if conn.execute("SELECT 1 FROM photos WHERE file = ?", (rel,)).fetchone():
                        continue  # the same photo is filed in another case
                    try:
                        (self.photos_dir / rel).unlink()
                        removed += 1
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        problems.append(f"a photo file could not be removed ({exc.strerror})")
        except StoreError as exc:  # busy: the files are collected the next time a store opens
            problems.append(f"photo files left for later: {exc}")
        return removed
