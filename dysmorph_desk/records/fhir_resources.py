"""The resources of a screening's FHIR Bundle, one builder each, and their code systems.

``records.fhir`` assembles the Bundle (see its docstring for what each resource holds, and why);
this module builds the resources themselves as plain ``dict``/``list`` values from the photos'
JSON: the Patient, one Device per model bundle, the Media of a photo, the Observation of one
model on one photo or on a visit, and the DiagnosticReport. Every builder is pure: the same
inputs give the same resource, key for key and in the same order.

Core module: no Qt, no torch.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

from dysmorph_desk import __version__
from dysmorph_desk.screening.results import DISCLAIMER

PATIENT_ID_SYSTEM = "urn:dysmorph-desk:patient-id"
BUNDLE_SHA_SYSTEM = "urn:dysmorph-desk:bundle-sha256"
PHOTO_SHA_SYSTEM = "urn:dysmorph-desk:photo-sha256"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"
UCUM = "http://unitsofmeasure.org"
REPORT_CODE_TEXT = "Facial dysmorphology screening (screening aid, not a diagnosis)"
NOT_A_DIAGNOSIS = "Screening aid, not a diagnosis."
REPORT_TITLE = "DysmorphDesk screening report"
_GENDER = {"female": "female", "male": "male", "unknown": "unknown"}


def instant(value: str | datetime) -> str:
    """ISO 8601 with seconds and a time zone (FHIR ``instant``); a naive time is read as UTC."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat(timespec="seconds")


def ref(full_url: str) -> dict[str, str]:
    """A FHIR ``Reference`` to the entry with this full URL."""
    return {"reference": full_url}


def model_results(photo: dict[str, Any]) -> list[dict[str, Any]]:
    """A photo's model results (``results`` of its JSON)."""
    return list(photo.get("results") or [])


def _ratio(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "1", "system": UCUM, "code": "1"}


def _number(value: float | None) -> float | None:
    """The JSON's rounded value (6 decimals), or None for a missing or non-finite one."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), 6)


def _absent(reason: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "coding": [
            {"system": DATA_ABSENT_SYSTEM, "code": "not-performed", "display": "Not Performed"}
        ]
    }
    if reason:
        out["text"] = reason
    return out


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG header, or None when it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            return int(im.width), int(im.height)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def _components(
    flagged: bool | None, threshold: float, predicted: str | None
) -> list[dict[str, Any]]:
    comps: list[dict[str, Any]] = [
        {"code": {"text": "Screening threshold"}, "valueQuantity": _ratio(float(threshold))}
    ]
    flag: dict[str, Any] = {"code": {"text": "At or above the screening threshold (flagged)"}}
    if flagged is None:
        flag["dataAbsentReason"] = _absent(None)
    else:
        flag["valueBoolean"] = bool(flagged)
    comps.append(flag)
    if predicted:
        comps.append({"code": {"text": "Most likely class"}, "valueString": predicted})
    return comps


def _value(m: dict[str, Any]) -> float | None:
    """A model result's syndromic probability as the bundle gives it; None when not assessed."""
    return _number(m.get("syndromic_probability")) if m.get("assessable") else None


def _summary(photos: Sequence[dict[str, Any]], visit: dict[str, Any] | None) -> str:
    """One line: each model's (visit or single-photo) result, or why it could not assess."""

    def one(m: dict[str, Any]) -> str:
        p, name = _value(m), str(m.get("model"))
        if p is None:
            return f"{name}: not assessable ({m.get('cannot_assess_reason') or 'no result'})"
        thr = float(m.get("threshold", 0.0))
        flagged = m.get("flagged")
        return f"{name}: {p:.3f} ({'flagged' if flagged else 'not flagged'}; threshold {thr:g})"

    n = len(photos)
    if visit is not None:
        parts = [one(m) for m in visit.get("results", [])]
        head = f"Visit of {n} photo{'s' if n != 1 else ''}, fused"
    elif n == 1:
        parts = [one(m) for m in model_results(photos[0])]
        head = "1 photo"
    else:
        parts = []
        for i, photo in enumerate(photos, 1):
            models = model_results(photo)
            flagged = sum(1 for m in models if m.get("assessable") and m.get("flagged"))
            assessed = sum(1 for m in models if m.get("assessable"))
            parts.append(f"photo {i}: flagged by {flagged} of {assessed} assessing models")
        head = f"{n} photos"
    return f"Summary ({head}): " + ("; ".join(parts) if parts else "no model results") + "."


def _status_label(m: dict[str, Any]) -> str:
    """The label every output shows for the model's status (JSON ``model_status_label``), or
    derived from ``model_status`` the way the model card does when the JSON lacks it."""
    label = m.get("model_status_label")
    if label:
        return str(label)
    from dysmorph_desk.bundles.cards import ModelCard

    status = str(m.get("model_status") or "")
    rule: property = ModelCard.__dict__["status_label"]  # the card's own rule, on the status
    return str(rule.fget(SimpleNamespace(status=status))) if rule.fget is not None else status


def patient_resource(patient_id: str, sex: str) -> dict[str, Any]:
    """The Patient: the pseudonymous ID (when there is one) and the gender, nothing else."""
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if patient_id:
        patient["identifier"] = [{"system": PATIENT_ID_SYSTEM, "value": patient_id}]
    patient["gender"] = _GENDER.get(sex, "unknown")
    return patient


def device_resource(m: dict[str, Any]) -> dict[str, Any]:
    """The Device of the model bundle that gave the model result ``m``."""
    sha = str(m["bundle_sha256"])
    properties: list[dict[str, Any]] = [
        {"type": {"text": "model status"}, "valueCode": [{"text": str(m.get("model_status"))}]}
    ]
    if m.get("architecture"):
        properties.append(
            {"type": {"text": "architecture"}, "valueCode": [{"text": str(m["architecture"])}]}
        )
    return {
        "resourceType": "Device",
        "identifier": [{"system": BUNDLE_SHA_SYSTEM, "value": sha}],
        "status": "active",
        "deviceName": [{"name": str(m["model"]), "type": "model-name"}],
        "type": {"text": "DysmorphDesk screening model"},
        "version": [
            {"type": {"text": "model bundle SHA-256"}, "value": sha},
            {"type": {"text": "DysmorphDesk software version"}, "value": __version__},
        ],
        "property": properties,
        "note": [{"text": f"{_status_label(m)}. {NOT_A_DIAGNOSIS}"}],
    }


def media_resource(
    photo: dict[str, Any],
    data: bytes,
    index: int,
    total: int,
    *,
    subject: dict[str, str],
    created: str,
) -> dict[str, Any]:
    """The Media of photo ``index`` of ``total``: its JPEG ``data`` (never the file name)."""
    content: dict[str, Any] = {
        "contentType": "image/jpeg",
        "data": base64.b64encode(data).decode("ascii"),
        "size": len(data),
        "title": f"Photo {index} of {total}",
    }
    media: dict[str, Any] = {
        "resourceType": "Media",
        "identifier": [{"system": PHOTO_SHA_SYSTEM, "value": photo["photo_sha256"]}],
        "status": "completed",
        "type": {"coding": [{"system": MEDIA_TYPE_SYSTEM, "code": "image", "display": "Image"}]},
        "subject": subject,
        "createdDateTime": created,
        "content": content,
        "note": [
            {
                "text": "The screened photo. Its identifier is the SHA-256 of the original "
                "photo file; this JPEG may be a re-encoding of it."
            }
        ],
    }
    size = _jpeg_size(data)
    if size is not None:
        media["width"], media["height"] = size
    return media


class ObservationContext(NamedTuple):
    """What an Observation cites: the Patient (``subject``), when the photo was taken (or the
    visit's last one), when the bundle is issued, and the Device (references)."""

    subject: dict[str, str]
    effective: str
    issued: str
    device: dict[str, str]


def _observation(
    m: dict[str, Any],
    at: ObservationContext,
    *,
    code: str,
    about: str,
    no_result: str,
    also: str | None,
    method: str | None,
    derived: list[dict[str, str]],
    threshold: float,
    predicted: str | None,
) -> dict[str, Any]:
    """An Observation of the model result ``m`` (of a photo or a visit): ``code`` its text; its
    notes "not a diagnosis", ``about``, why it is not assessable (the model's reason, or
    ``no_result``) and ``also``; the ``method`` and the Observations or Media it is ``derived``
    from, when any; the threshold and, when assessed, whether flagged and the ``predicted`` class."""
    value = _value(m)
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "preliminary",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY_SYSTEM, "code": "exam", "display": "Exam"}]}
        ],
        "code": {"text": code},
        "subject": at.subject,
        "effectiveDateTime": at.effective,
        "issued": at.issued,
    }
    notes = [NOT_A_DIAGNOSIS, about]
    if value is None:
        reason = m.get("cannot_assess_reason") or no_result
        obs["dataAbsentReason"] = _absent(reason)
        notes.append(f"Not assessable: {reason}")
    else:
        obs["valueQuantity"] = _ratio(value)
    if also:
        notes.append(also)
    obs["note"] = [{"text": t} for t in notes]
    if method:
        obs["method"] = {"text": method}
    obs["device"] = at.device
    if derived:
        obs["derivedFrom"] = derived
    obs["component"] = _components(
        m.get("flagged") if value is not None else None,
        threshold,
        predicted if value is not None else None,
    )
    return obs


def observation_resource(
    m: dict[str, Any],
    photo: dict[str, Any],
    index: int,
    total: int,
    at: ObservationContext,
    *,
    media: str | None,
) -> dict[str, Any]:
    """The Observation of model result ``m`` on photo ``index`` of ``total``, derived from the
    photo's Media (its full URL ``media``) when there is one."""
    predicted = m.get("predicted")
    forced = "Assessed although quality checks failed (forced by the user)."
    return _observation(
        m,
        at,
        code=f"Syndromic probability ({m['model']})",
        about=f"Photo {index} of {total}, SHA-256 {photo['photo_sha256']}.",
        no_result="the model could not assess this photo",
        also=forced if m.get("forced_assessment") else None,
        method=f"Class activation map: {m['cam_method']}" if m.get("cam_method") else None,
        derived=[] if media is None else [ref(media)],
        threshold=float(m["threshold"]),
        predicted=(m.get("class_names") or {}).get(predicted, predicted) if predicted else None,
    )


def visit_observation_resource(
    m: dict[str, Any],
    visit: dict[str, Any],
    at: ObservationContext,
    *,
    derived: list[dict[str, str]],
) -> dict[str, Any]:
    """The Observation of the visit's fused result ``m`` of one model, derived from the photos'
    Observations (``derived``)."""
    disagree = "The photos of this visit disagree (flagged on some, not on others)."
    return _observation(
        m,
        at,
        code=f"Syndromic probability ({m.get('model')}), visit",
        about=f"Visit result: {m.get('photos_assessed')} of {m.get('photos_total')} photos assessed.",
        no_result="no photo of the visit could be assessed",
        also=disagree if m.get("photos_disagree") else None,
        method=str(visit.get("fusion") or "visit fusion"),
        derived=derived,
        threshold=float(m.get("threshold", 0.0)),
        predicted=None,
    )


def report_resource(
    photos: Sequence[dict[str, Any]],
    pdf: bytes,
    *,
    visit: dict[str, Any] | None,
    subject: dict[str, str],
    taken: list[str],
    issued: str,
    study_uid: str | None,
    results: list[str],
    media: list[str | None],
) -> dict[str, Any]:
    """The DiagnosticReport: the PDF, the conclusion, and every Observation (``results``, full
    URLs) and Media (``media``, one full URL or None per photo); ``taken``: the photos' times."""
    created_times = sorted(taken, key=datetime.fromisoformat)
    report: dict[str, Any] = {"resourceType": "DiagnosticReport"}
    if study_uid:
        report["identifier"] = [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}]
    report |= {
        "status": "preliminary",
        "category": [
            {
                "coding": [{"system": CATEGORY_SYSTEM, "code": "OTH", "display": "Other"}],
                "text": "Facial dysmorphology screening aid",
            }
        ],
        "code": {"text": REPORT_CODE_TEXT},
        "subject": subject,
    }
    if created_times[0] == created_times[-1]:
        report["effectiveDateTime"] = created_times[0]
    else:
        report["effectivePeriod"] = {"start": created_times[0], "end": created_times[-1]}
    report["issued"] = issued
    report["result"] = [ref(u) for u in results]
    if any(media):
        report["media"] = [
            {"comment": f"Photo {i} of {len(photos)}", "link": ref(u)}
            for i, u in enumerate(media, 1)
            if u is not None
        ]
    report["conclusion"] = f"{DISCLAIMER} {_summary(photos, visit)}"
    report["presentedForm"] = [
        {
            "contentType": "application/pdf",
            "data": base64.b64encode(pdf).decode("ascii"),
            "size": len(pdf),
            # FHIR's Attachment.hash is the base64 SHA-1 of the data
            "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
            "title": REPORT_TITLE,
            "creation": issued,
        }
    ]
    return report
