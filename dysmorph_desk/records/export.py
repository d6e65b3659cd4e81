"""The case exports written here: the whole case as JSON, and one CSV row per photo per model.

FHIR and DICOM live in ``records.fhir`` and ``records.dicom``. Both renderings come from a
:class:`~dysmorph_desk.records.models.CaseRecord`, so they show exactly what the store holds.
Also here, for the exports of one visit: a photo's stored result rows merged back into the
photo's JSON (:func:`photo_json`), and the visit's PDF report as exported (:func:`visit_pdf`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from dysmorph_desk import __version__
from dysmorph_desk.records.models import CaseRecord, PhotoRecord, VisitRecord

CASE_EXPORT_FORMAT = "dysmorph-desk-case/1"
CSV_COLUMNS = (
    "case_uid",
    "visit_date",
    "photo_sha256",
    "model",
    "bundle_sha256",
    "syndromic_probability",
    "threshold",
    "flagged",
    "assessable",
    "reason",
    "screened",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def case_json(record: CaseRecord) -> bytes:
    """The case as strict JSON (UTF-8): everything the store holds about it except photo files
    (each visit with its HPO terms and the differentials filed for it)."""
    doc = {"format": CASE_EXPORT_FORMAT, "software_version": __version__, "case": record.to_json()}
    return (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _cell(value: Any) -> Any:
    """A spreadsheet must not run a cell as a formula: text starting with = + - @ gets a quote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def case_csv(record: CaseRecord) -> bytes:
    """One row per photo per model result (re-screenings are further rows), UTF-8 with header.

    Columns: ``CSV_COLUMNS``; the probability is the syndromic one, ``reason`` why a model could
    not assess the face (empty when it could), ``screened`` when the result was filed.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for visit in record.visits:
        for photo in visit.photos:
            for res in photo.results:
                models = res.result.get("results") or [{}]
                for m in models:
                    row = (
                        record.uid,
                        visit.date,
                        photo.sha256,
                        m.get("model", res.bundle_name),
                        m.get("bundle_sha256", res.bundle_sha256),
                        m.get("syndromic_probability"),
                        m.get("threshold"),
                        m.get("flagged"),
                        m.get("assessable"),
                        m.get("cannot_assess_reason"),
                        res.created,
                    )
                    writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode("utf-8")


def photo_json(photo: PhotoRecord) -> dict[str, Any] | None:
    """The photo's latest screening as one JSON document (``ScreeningResult.to_json()``).

    The store keeps one row per model, each the photo's document with that model's result only;
    this merges the rows back. A photo screened again has rows of several screenings: only the
    latest one's are taken (the rows whose document has the latest row's ``created``), so a
    model dropped from the later screening does not come back from the earlier one. The models
    are in filing order (the screener's), a model filed twice in one screening once (its last
    row). The rest of the document is the latest row's. None when the photo has no result.
    """
    if not photo.results:
        return None
    latest = photo.results[-1].result
    models: dict[tuple[str, str], dict[str, Any]] = {}
    for row in photo.results:  # by row id: filing order
        if row.result.get("created") != latest.get("created"):
            continue
        for m in row.result.get("results") or []:
            models[(str(m.get("model")), str(m.get("bundle_sha256")))] = m
    return {**latest, "results": list(models.values())}


def visit_photos_json(visit: VisitRecord) -> list[dict[str, Any]]:
    """The visit's screened photos as JSON documents (:func:`photo_json`), in filing order;
    photos without a result are left out."""
    docs = (photo_json(p) for p in visit.photos)
    return [d for d in docs if d is not None]


def visit_pdf(visit: VisitRecord) -> bytes | None:
    """The visit's latest exported PDF report that is still on disk with the SHA-256 recorded
    when it was exported; None when there is none (the store keeps results, not reports)."""
    for e in reversed(visit.exports):
        if e.kind != "pdf":
            continue
        path = Path(e.path)
        try:
            if not path.is_file():
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == e.sha256:
            return data
    return None
