"""A screening as a FHIR R4B ``Bundle`` (JSON), for an EHR or a FHIR server to import.

The bundle is built as plain ``dict``/``list`` values (no FHIR library at runtime; the tests
validate it with ``fhir.resources``). What it holds, and why:

* **Bundle.type ``collection``.** A ``document`` bundle must start with a ``Composition`` (and
  carries an attester, a section structure and document-identity rules that a screening aid does
  not have); a ``transaction`` would tell a server what to create. ``collection`` is "a set of
  resources collected into a single package": exactly a screening's report and its parts, which a
  receiving system may file as it sees fit. Entries are referenced by ``urn:uuid:`` full URLs.
* **Patient**: the pseudonymous ID as the only identifier (system ``urn:dysmorph-desk:patient-id``)
  and the gender. No name, no birth date: DysmorphDesk never has them (the case holds an age).
* **Device**, one per model bundle: the model name, its bundle SHA-256 as the version, its status
  ("demonstration", "research", ...) and the status label every output shows.
* **DiagnosticReport**, status ``preliminary``: a screening aid's output is never a final
  result; it stands until a clinician has reviewed it and confirmed it by examination and
  genetic testing (``final`` would tell a receiving system that it may act on it as it is).
  Category: HL7 v2 table 0074 ``OTH`` ("Other"). The binding is an example one, so any code is
  valid; ``OTH`` is the honest one: the screening is not a laboratory test (``LAB``, ``GE``), not a
  radiology study (``RAD``/``IMG``), and not a physician's note (``PHY``). Its ``presentedForm`` is
  the PDF report (the exact bytes), its ``conclusion`` the disclaimer and a one-line summary.
* **Observation**, one per model per photo (and, for a visit, one per model for the fused visit
  result), status ``preliminary``, category ``exam``: the syndromic probability as a dimensionless
  UCUM quantity (``1``), the JSON's rounded value; components for the threshold, whether the
  result is flagged, and the most likely class. A model that could not assess the photo gives no
  value but ``dataAbsentReason`` ``not-performed`` (the model did not produce the observation for
  this photo; the reason, e.g. "face turned too far", is its text and a note).
* **Media**, only with ``include_photo``: the photo as JPEG (``status`` ``completed``), referenced
  from the report's ``media`` and each of its Observations' ``derivedFrom``. Never the file name.

Timestamps are ISO 8601 with a time zone (a naive one is read as UTC). The entries' UUIDs are
derived (UUID 5) from the inputs, so the builder is pure: the same screening, PDF and ``created``
give the same bundle.

One source of truth: the bundle is built from the photos' JSON (``ScreeningResult.to_json()``, the
``photos`` of schema 2: what the CLI writes and the case store keeps), by
:func:`fhir_bundle_from_json`. :func:`fhir_bundle` is its wrapper for live results, and
:func:`visit_fhir_bundle` builds one from a visit of the case store, so a screening exported when
it is made and the same screening exported later from the store give the same bundle. This module
assembles the bundle; ``records.fhir_resources`` builds each of its resources.

Core module: no Qt, no torch.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dysmorph_desk.records.fhir_resources import (
    CATEGORY_SYSTEM,
    DATA_ABSENT_SYSTEM,
    OBSERVATION_CATEGORY_SYSTEM,
    PATIENT_ID_SYSTEM,
    ObservationContext,
    device_resource,
    instant,
    media_resource,
    model_results,
    observation_resource,
    patient_resource,
    ref,
    report_resource,
    visit_observation_resource,
)
from dysmorph_desk.screening.results import ScreeningResult
from dysmorph_desk.utils.atomic import write_bytes_atomic

if TYPE_CHECKING:
    from dysmorph_desk.records.models import VisitRecord

__all__ = [
    "CATEGORY_SYSTEM",
    "DATA_ABSENT_SYSTEM",
    "OBSERVATION_CATEGORY_SYSTEM",
    "PATIENT_ID_SYSTEM",
    "fhir_bundle",
    "fhir_bundle_from_json",
    "fhir_json",
    "photo_jpeg",
    "visit_fhir_bundle",
    "write_fhir",
]

# The namespace of the entries' UUID 5 (fixed: a bundle's UUIDs depend on its inputs only).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:dysmorph-desk:fhir")


def fhir_bundle(
    results: list[ScreeningResult],
    pdf: bytes,
    *,
    visit: dict[str, Any] | None = None,
    include_photo: bool = False,
    photos: list[bytes] | None = None,
    created: str | None = None,
    study_uid: str | None = None,
) -> dict[str, Any]:
    """The screening of one patient's photos as a FHIR R4B ``collection`` Bundle (a dict).

    A wrapper of :func:`fhir_bundle_from_json` for live results: the bundle is built from their
    JSON (``ScreeningResult.to_json()``), exactly as from the same results read back from a file
    or the case store.

    Args:
        results: the screened photos of one patient, in order (refused photos have no result and
            are not here). All must carry the same patient ID and sex.
        pdf: the PDF report of these photos (``report_bytes``/``visit_report_bytes``); it becomes
            the DiagnosticReport's ``presentedForm``, byte for byte.
        visit: the fused visit result (``VisitResult.to_json()``) when the photos are one visit:
            one more Observation per model, derived from the photos' Observations, and the
            conclusion summarises it.
        include_photo: add each photo as a ``Media`` resource (the photo identifies the child: only
            when the user asks for it).
        photos: the photos as JPEG bytes, one per result; required with ``include_photo``.
        created: when the export was made (``Bundle.timestamp``, ``DiagnosticReport.issued``);
            ISO 8601, default now (UTC).
        study_uid: the DICOM Study Instance UID of the same screening (``dicom.encapsulated_pdf``),
            recorded as a DiagnosticReport identifier (``urn:dicom:uid``) so the two exports can be
            matched.

    Returns:
        The Bundle as JSON-ready values (no NaN, no infinity).

    Raises:
        ValueError: no results, photos of different patients, or ``include_photo`` without one
            JPEG per result.

    Example:
        >>> bundle = fhir_bundle([result], report_bytes(result))  # doctest: +SKIP
        >>> [e["resource"]["resourceType"] for e in bundle["entry"]][:3]  # doctest: +SKIP
        ['DiagnosticReport', 'Patient', 'Device']
    """
    return fhir_bundle_from_json(
        [r.to_json() for r in results],
        pdf,
        visit=visit,
        include_photo=include_photo,
        photo_bytes=photos,
        created=created,
        study_uid=study_uid,
    )


def fhir_bundle_from_json(
    photos: list[dict[str, Any]],
    pdf: bytes,
    *,
    visit: dict[str, Any] | None = None,
    include_photo: bool = False,
    photo_bytes: list[bytes] | None = None,
    created: str | None = None,
    study_uid: str | None = None,
) -> dict[str, Any]:
    """The screening of one patient's photos, given as their JSON, as a FHIR R4B Bundle (a dict).

    Args:
        photos: the screened photos' JSON (``ScreeningResult.to_json()``: schema 2's ``photos``,
            or a photo as the case store keeps it, see ``records.export.photo_json``), in order.
            What is read: ``created``, ``photo_sha256``, ``case.patient_id`` and ``case.sex``,
            and of each of ``results``: ``model``, ``model_status``, ``model_status_label``
            (derived from the status when missing), ``architecture`` (optional),
            ``bundle_sha256``, ``syndromic_probability``, ``threshold``, ``flagged``,
            ``assessable``, ``cannot_assess_reason``, ``forced_assessment``, ``cam_method``,
            ``predicted`` and ``class_names``. All photos must carry the same patient ID and sex.
        pdf: the PDF report of these photos; the DiagnosticReport's ``presentedForm``, byte for
            byte.
        visit: the fused visit result (``VisitResult.to_json()``), when the photos are one visit.
        include_photo: add each photo as a ``Media`` resource (only when the user asks for it).
        photo_bytes: the photos as JPEG bytes, one per photo; required with ``include_photo``.
        created: when the export was made; ISO 8601, default now (UTC).
        study_uid: the DICOM Study Instance UID of the same screening.

    Returns:
        The Bundle as JSON-ready values (no NaN, no infinity); see :func:`fhir_bundle`.

    Raises:
        ValueError: no photos, a photo's JSON without its ``created``, ``photo_sha256`` or a
            model's ``model``/``bundle_sha256``/``threshold``, photos of different patients, a
            visit model that screened none of the photos, or ``include_photo`` without one JPEG
            per photo.

    Example:
        >>> doc = json.loads(Path("screening.json").read_text())  # doctest: +SKIP
        >>> bundle = fhir_bundle_from_json(doc["photos"], pdf, visit=doc["visit"])  # doctest: +SKIP
    """
    who = _check_inputs(photos, include_photo, photo_bytes)
    bundle = _start(photos, pdf, created=created, study_uid=study_uid)
    bundle.add("patient", patient_resource(*who))
    devices = _add_devices(bundle, photos)
    media = _add_media(bundle, photos, photo_bytes if include_photo else None)
    observations, per_model = _add_observations(bundle, photos, devices, media)
    if visit is not None:
        observations += _add_visit_observations(bundle, visit, devices, per_model)
    report = report_resource(
        photos,
        pdf,
        visit=visit,
        subject=bundle.subject,
        taken=bundle.taken,
        issued=bundle.issued,
        study_uid=study_uid,
        results=observations,
        media=media,
    )
    # the report first: a reader looking for "the" result finds it at once
    bundle.add("report", report, first=True)
    return bundle.to_json()


@dataclass
class _Bundle:
    """A bundle being built: its seed (the namespace of its entries' UUID 5), when it is issued,
    when each photo was taken (FHIR instants), and its entries so far."""

    seed: uuid.UUID
    issued: str
    taken: list[str]
    entries: list[dict[str, Any]] = field(default_factory=list)

    def url(self, name: str) -> str:
        """The full URL of the entry ``name`` (a UUID 5 of the seed)."""
        return f"urn:uuid:{uuid.uuid5(self.seed, name)}"

    @cached_property
    def subject(self) -> dict[str, str]:
        """The reference to the Patient (one object, shared by the resources that cite it)."""
        return ref(self.url("patient"))

    def add(self, name: str, resource: dict[str, Any], *, first: bool = False) -> str:
        """Add ``resource`` as the entry ``name`` (last, or ``first``); its full URL."""
        full_url = self.url(name)
        entry = {"fullUrl": full_url, "resource": resource}
        self.entries.insert(0 if first else len(self.entries), entry)
        return full_url

    def to_json(self) -> dict[str, Any]:
        """The Bundle of the entries added."""
        return {
            "resourceType": "Bundle",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{self.seed}"},
            "type": "collection",
            "timestamp": self.issued,
            "entry": self.entries,
        }


def _check_inputs(
    photos: list[dict[str, Any]], include_photo: bool, photo_bytes: list[bytes] | None
) -> tuple[str, str]:
    """The patient's ID and sex, once the inputs are checked (a clear ValueError, not a
    KeyError)."""
    if not photos:
        raise ValueError("a FHIR bundle needs at least one screened photo")
    for photo in photos:
        _check_photo(photo)
    case = photos[0].get("case") or {}
    who = (case.get("patient_id") or "", case.get("sex") or "unknown")
    for other in photos[1:]:
        o = other.get("case") or {}
        if (o.get("patient_id") or "", o.get("sex") or "unknown") != who:
            raise ValueError("the photos of one FHIR bundle must be of one patient")
    if include_photo:
        if photo_bytes is None or len(photo_bytes) != len(photos):
            raise ValueError("include_photo needs one JPEG per screened photo")
        for data in photo_bytes:
            if not bytes(data[:3]) == b"\xff\xd8\xff":
                raise ValueError("the photos of a FHIR bundle must be JPEG")
    return who


def _check_photo(photo: dict[str, Any]) -> None:
    """The fields without which no bundle can be built (a clear error, not a KeyError)."""
    for key in ("created", "photo_sha256"):
        if not photo.get(key):
            raise ValueError(f"a photo's JSON has no {key}")
    for m in model_results(photo):
        for key in ("model", "bundle_sha256", "threshold"):
            if m.get(key) is None:
                raise ValueError(f"a model result in a photo's JSON has no {key}")


def _start(
    photos: list[dict[str, Any]], pdf: bytes, *, created: str | None, study_uid: str | None
) -> _Bundle:
    """An empty bundle, its seed derived from the inputs (the same inputs, the same UUIDs)."""
    issued = instant(created if created is not None else datetime.now(UTC))
    taken = [instant(str(p["created"])) for p in photos]
    seed_text = "|".join(
        [issued, study_uid or "", hashlib.sha256(pdf).hexdigest()]
        + [f"{p['photo_sha256']}@{t}" for p, t in zip(photos, taken, strict=True)]
    )
    return _Bundle(uuid.uuid5(_NAMESPACE, seed_text), issued, taken)


def _add_devices(bundle: _Bundle, photos: list[dict[str, Any]]) -> dict[str, str]:
    """One Device per model bundle, in the order the models first appear; their full URLs by
    bundle SHA-256."""
    devices: dict[str, str] = {}
    for photo in photos:
        for m in model_results(photo):
            sha = str(m["bundle_sha256"])
            if sha not in devices:
                devices[sha] = bundle.add(f"device/{sha}", device_resource(m))
    return devices


def _add_media(
    bundle: _Bundle, photos: list[dict[str, Any]], photo_bytes: list[bytes] | None
) -> list[str | None]:
    """One Media per photo when there are its JPEG bytes; the full URL of each (None without)."""
    media: list[str | None] = [None] * len(photos)
    if photo_bytes is None:
        return media
    for i, (photo, data) in enumerate(zip(photos, photo_bytes, strict=True), 1):
        resource = media_resource(
            photo, data, i, len(photos), subject=bundle.subject, created=bundle.taken[i - 1]
        )
        media[i - 1] = bundle.add(f"media/{i}", resource)
    return media


def _add_observations(
    bundle: _Bundle,
    photos: list[dict[str, Any]],
    devices: dict[str, str],
    media: list[str | None],
) -> tuple[list[str], dict[tuple[str, str], list[str]]]:
    """One Observation per model per photo; their full URLs, in order and by (model, bundle
    SHA-256)."""
    urls: list[str] = []
    per_model: dict[tuple[str, str], list[str]] = {}
    for i, photo in enumerate(photos, 1):
        for j, m in enumerate(model_results(photo), 1):
            sha = str(m["bundle_sha256"])
            at = ObservationContext(
                bundle.subject, bundle.taken[i - 1], bundle.issued, ref(devices[sha])
            )
            resource = observation_resource(m, photo, i, len(photos), at, media=media[i - 1])
            urls.append(bundle.add(f"observation/{i}/{j}", resource))
            per_model.setdefault((str(m["model"]), sha), []).append(urls[-1])
    return urls, per_model


def _add_visit_observations(
    bundle: _Bundle,
    visit: dict[str, Any],
    devices: dict[str, str],
    per_model: dict[tuple[str, str], list[str]],
) -> list[str]:
    """The visit's fused result: one Observation per model, derived from the photos' ones (the
    full URLs of ``per_model``); their full URLs."""
    effective = max(bundle.taken, key=datetime.fromisoformat)
    urls: list[str] = []
    for k, vm in enumerate(visit.get("results", []), 1):
        key = (str(vm.get("model")), str(vm.get("bundle_sha256")))
        if key[1] not in devices:
            raise ValueError(f"the visit's model {key[0]} screened none of the photos")
        at = ObservationContext(bundle.subject, effective, bundle.issued, ref(devices[key[1]]))
        derived = [ref(u) for u in per_model.get(key, [])]
        resource = visit_observation_resource(vm, visit, at, derived=derived)
        urls.append(bundle.add(f"visit-observation/{k}", resource))
    return urls


def visit_fhir_bundle(
    visit: VisitRecord, pdf: bytes, *, created: str | None = None
) -> dict[str, Any]:
    """A visit of the case store as a FHIR Bundle: what :func:`fhir_bundle` gave when it was
    screened, rebuilt from what the store keeps.

    The photos are the visit's, in filing order, each its latest screening with every model's
    result (``records.export.visit_photos_json``); the fused result is the visit's latest one,
    and the study UID the visit's (the one its DICOM exports carry).

    Args:
        visit: the visit (``CaseStore.get_case(uid).visits[i]``).
        pdf: the visit's PDF report (``records.export.visit_pdf``).
        created: when the export is made; ISO 8601, default now (UTC).

    Raises:
        ValueError: no photo of the visit has a result; the stored fused result is of other
            photos or models than the visit's.
    """
    from dysmorph_desk.records.export import visit_photos_json

    photos = visit_photos_json(visit)
    fused = visit.visit_results[-1].result if visit.visit_results else None
    of = None if fused is None else fused.get("photo_sha256s")
    if of is not None and sorted(map(str, of)) != sorted(p["photo_sha256"] for p in photos):
        raise ValueError("the visit's fused result is not of the visit's screened photos")
    return fhir_bundle_from_json(
        photos, pdf, visit=fused, created=created, study_uid=visit.study_uid
    )


def photo_jpeg(rgb: Any) -> bytes:
    """A screened photo (as decoded: EXIF and file name dropped) as JPEG, for a ``Media`` entry."""
    import cv2

    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]
    )
    if not ok:
        raise ValueError("the photo could not be encoded as JPEG")
    return bytes(buf.tobytes())


def fhir_json(bundle: dict[str, Any]) -> bytes:
    """The bundle as UTF-8 JSON; NaN or infinity anywhere is an error, never written."""
    return (json.dumps(bundle, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode(
        "utf-8"
    )


def write_fhir(
    path: str | Path,
    results: list[ScreeningResult],
    pdf: bytes,
    *,
    force: bool = False,
    **options: Any,
) -> Path:
    """Build the bundle (:func:`fhir_bundle`, ``options`` are its keywords) and write it atomically.

    Raises:
        UsageError: ``path`` exists and ``force`` is not given, or is a folder.
        OutputError: the file could not be written.
    """
    data = fhir_json(fhir_bundle(results, pdf, **options))
    return write_bytes_atomic(path, data, force=force, sync_dir=True)
