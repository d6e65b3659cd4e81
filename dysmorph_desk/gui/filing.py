"""Save case: the current case's photos and results into the case store (no Qt).

The first Save files the visit in one transaction (``CaseStore.file_screening``). A later Save
of the same case adds what is new to that visit: photos opened since (with their results), new
results of photos screened again (results are never replaced: a row is added), the notes, the
fused visit result and the exports made meanwhile. When the patient ID, sex or age changed since
the case was filed, the details no longer describe that visit, so the case is filed again as a
new visit (the earlier one stays, and can be deleted in the Cases view).

The clinician's HPO terms go with the visit (``CaseSession.hpo_terms``: set on first filing,
replaced when they changed). The differential on screen (``CaseSession.differential``, ranked from
exactly the session's current results) is filed with the hashes of the photos it was ranked from;
the store refuses it unless they are exactly the visit's photos, e.g. after one photo of a
three-photo visit was re-opened, and Save then says why it was not filed.

Adding to a filed visit takes several store calls, each whole or nothing. If one fails part-way,
the photos added before it stay filed (and are remembered as filed), so Save can simply be
repeated once the store is usable again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dysmorph_desk.gui.case_state import CaseSession, ScreenedPhoto
from dysmorph_desk.gui.exporters import visit_json
from dysmorph_desk.screening.results import CaseInfo, ScreeningResult

if TYPE_CHECKING:
    from dysmorph_desk.records.store import CaseStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filed:
    """What a Save did, for the status bar."""

    case_uid: str
    visit_uid: str
    photos: int  # photos (or new results) filed now
    how: str  # "filed" (a first Save), "added" (to the filed visit), "refiled" (a new visit)
    hash_only: int  # photos whose file could not be kept (changed on disk, or not kept by choice)
    differential: str = ""  # "filed", why it was not, or "" (no differential on screen)


def identity(case: CaseInfo) -> tuple[str, str, float | None]:
    """What a filed visit is about: another patient ID, sex or age is another visit."""
    return case.patient_id, case.sex, case.age_months


def kept_bytes(photo: ScreenedPhoto, keep: bool) -> bytes | None:
    """The photo's bytes to keep, only when they are exactly what was screened."""
    if not keep:
        return None
    data = photo.photo_bytes()
    if data is not None and hashlib.sha256(data).hexdigest() != photo.result.photo_sha256:
        log.warning("a photo changed on disk after it was screened: only its hash is filed")
        return None
    return data


def file_case(
    store: CaseStore, session: CaseSession, case: CaseInfo, *, keep_photos: bool
) -> Filed:
    """File what of ``session`` is not in ``store`` yet, under the details ``case``.

    Raises:
        StoreError: the store refused (busy, read-only, full, damaged); see the note on
            atomicity in the module docstring.
        ValueError: nothing is screened.
    """
    if not session.photos:
        raise ValueError("nothing is screened in this case")
    photos = list(session.photos.values())
    refiling = session.filed_case is not None and identity(session.filed_case) != identity(case)
    hash_only = 0
    if session.visit_uid is None or refiling:
        pairs: list[tuple[bytes | None, ScreeningResult]] = []
        for photo in photos:
            photo.photo_id = None
            data = kept_bytes(photo, keep_photos)
            hash_only += data is None
            pairs.append((data, replace(photo.result, case=case)))
        results = [r for _, r in pairs]
        diff = session.differential  # ranked from exactly these photos' results, or None
        case_uid, visit_uid = store.file_screening(
            case,
            pairs,
            visit_json(results),
            case.operator,
            hpo_terms=session.hpo_terms,
            differential=diff,
        )
        _learn_photo_ids(store, case_uid, visit_uid, photos)
        filed, how = len(photos), "refiled" if refiling else "filed"
        diff_note = "filed" if diff is not None else ""
    else:
        assert session.case_uid is not None and session.filed_case is not None
        case_uid, visit_uid = session.case_uid, session.visit_uid
        new = session.unfiled()
        for photo in new:
            result = replace(photo.result, case=case)
            if photo.photo_id is None:
                data = kept_bytes(photo, keep_photos)
                hash_only += data is None
                photo.photo_id = store.add_photo(
                    visit_uid, data, result.photo_sha256, data is not None
                )
            from dysmorph_desk.records.store import result_rows  # the store's own row shape

            for name, sha, payload in result_rows(result):
                store.add_result(photo.photo_id, name, sha, payload, case.operator)
            session.filed_results[photo.key] = photo.serial
        fused = visit_json(session.results(case)) if new else None
        if fused is not None:
            store.add_visit_result(visit_uid, fused)
        if session.filed_case.notes != case.notes:
            store.update_visit_notes(visit_uid, case.notes, case.operator)
        if session.filed_terms != session.hpo_terms:
            store.set_visit_terms(visit_uid, session.hpo_terms, case.operator)
        diff_note = _add_differential(store, session, visit_uid, case.operator)
        filed, how = len(new), "added"
    for export in session.pending_exports:
        store.add_export(visit_uid, export.kind, export.path, export.sha256, case.operator)
    session.pending_exports.clear()
    session.mark_filed(case, case_uid, visit_uid)
    return Filed(case_uid, visit_uid, filed, how, hash_only, diff_note)


def _add_differential(store: CaseStore, session: CaseSession, visit_uid: str, operator: str) -> str:
    """File the differential on screen in the visit, unless Save took care of it already:
    "filed", why the store refused it (not ranked from exactly the visit's photos), or ""."""
    diff = session.differential
    if diff is None or diff is session.filed_differential:
        return ""
    shas = [p.result.photo_sha256 for p in session.photos.values()]
    try:
        store.add_differential(visit_uid, diff, shas, operator)
    except ValueError as exc:
        log.info("differential not filed: %s", exc)
        return str(exc)
    return "filed"


def _learn_photo_ids(
    store: CaseStore, case_uid: str, visit_uid: str, photos: list[ScreenedPhoto]
) -> None:
    """The store's photo rows of a visit just filed (in filing order), so that a result of a
    photo screened again later is added to the same photo."""
    record = store.get_case(case_uid)
    visit = next((v for v in record.visits if v.uid == visit_uid), None)
    if visit is None or len(visit.photos) != len(photos):
        return
    for photo, row in zip(photos, visit.photos, strict=True):
        photo.photo_id = row.id
