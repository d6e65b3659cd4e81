"""The FHIR R4B export: valid resources, resolvable references, required-binding codes, the exact PDF."""

from __future__ import annotations

import base64
import copy
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fhir.resources", reason="fhir.resources validates the bundle (test extra)")

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from dysmorph_desk.errors import UsageError
from dysmorph_desk.records.fhir import (
    DATA_ABSENT_SYSTEM,
    PATIENT_ID_SYSTEM,
    fhir_bundle,
    fhir_json,
    write_fhir,
)
from dysmorph_desk.report.render import report_bytes
from dysmorph_desk.screening.results import DISCLAIMER, CaseInfo, ScreeningResult
from tests.fakes import CREATED, SHA_A, SHA_B, screening_result, two_results, yaw_failed

PATIENT_ID = "Ζωή-Жанна-王小明"
PHOTO_LABEL = "IMG_20240501_Smith_Anna.jpg"
OPERATOR = "Dr Ana Operator"
NOTES = "Mother reports: Smith family"

# Required bindings (FHIR R4B), hard-coded from the value sets:
# https://hl7.org/fhir/R4B/valueset-bundle-type.html
BUNDLE_TYPES = {
    "document", "message", "transaction", "transaction-response", "batch", "batch-response",
    "history", "searchset", "collection",
}  # fmt: skip
# https://hl7.org/fhir/R4B/valueset-diagnostic-report-status.html
REPORT_STATUSES = {
    "registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
    "cancelled", "entered-in-error", "unknown",
}  # fmt: skip
# https://hl7.org/fhir/R4B/valueset-observation-status.html
OBSERVATION_STATUSES = {
    "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error",
    "unknown",
}  # fmt: skip
# https://hl7.org/fhir/R4B/valueset-event-status.html (Media.status)
EVENT_STATUSES = {
    "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
    "entered-in-error", "unknown",
}  # fmt: skip
# https://hl7.org/fhir/R4B/valueset-administrative-gender.html (Patient.gender)
GENDERS = {"male", "female", "other", "unknown"}
# https://hl7.org/fhir/R4B/valueset-device-status.html, valueset-device-nametype.html
DEVICE_STATUSES = {"active", "inactive", "entered-in-error", "unknown"}
DEVICE_NAME_TYPES = {
    "udi-label-name", "user-friendly-name", "patient-reported-name", "manufacturer-name",
    "model-name", "other",
}  # fmt: skip
# Extensible binding, but we use the code system's own codes:
# https://terminology.hl7.org/CodeSystem-data-absent-reason.html
DATA_ABSENT_CODES = {
    "unknown", "asked-unknown", "temp-unknown", "not-asked", "asked-declined", "masked",
    "not-applicable", "unsupported", "as-text", "error", "not-a-number", "negative-infinity",
    "positive-infinity", "not-performed", "not-permitted",
}  # fmt: skip


def _result(
    seed: int = 0, *, created: str = CREATED, probability: float = 0.8123456789
) -> ScreeningResult:
    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    return screening_result(
        two_results(probability, predicted="noonan", cam_target="noonan"),
        photo_sha256=f"{seed:02x}" * 32,
        box=(20.0, 20.0, 80.0, 100.0),
        quality=[yaw_failed()],
        case=CaseInfo(
            patient_id=PATIENT_ID, age_months=30, sex="female", operator=OPERATOR, notes=NOTES
        ),
        photo=photo,
        photo_label=PHOTO_LABEL,
        created=created,
    )


def _jpeg(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def one():
    result = _result()
    return result, report_bytes(result)


def _resources(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]]


def _of(bundle: dict, kind: str) -> list[dict]:
    return [r for r in _resources(bundle) if r["resourceType"] == kind]


def _references(node) -> list[str]:
    if isinstance(node, dict):
        out = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return out + [ref for v in node.values() for ref in _references(v)]
    if isinstance(node, list):
        return [ref for v in node for ref in _references(v)]
    return []


def _validate(bundle: dict) -> None:
    """Every resource on its own, then the whole Bundle, with the R4B models."""
    for entry in bundle["entry"]:
        res = entry["resource"]
        get_fhir_model_class(res["resourceType"]).model_validate(copy.deepcopy(res))
    Bundle.model_validate(copy.deepcopy(bundle))


def _check_structure(bundle: dict) -> None:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] in BUNDLE_TYPES
    assert bundle["type"] == "collection"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)  # bdl-7
    assert all(u.startswith("urn:uuid:") for u in urls)
    for ref in _references(bundle):  # every reference resolves inside the Bundle
        assert ref in urls, ref
    for r in _of(bundle, "DiagnosticReport"):
        assert r["status"] in REPORT_STATUSES and r["status"] == "preliminary"
    for r in _of(bundle, "Observation"):
        assert r["status"] in OBSERVATION_STATUSES and r["status"] == "preliminary"
        # obs-6: dataAbsentReason only without a value
        has_value = any(k.startswith("value") for k in r)
        assert has_value != ("dataAbsentReason" in r)
        for c in r.get("component", []):
            assert any(k.startswith("value") for k in c) != ("dataAbsentReason" in c)
        for reason in [r.get("dataAbsentReason")] + [
            c.get("dataAbsentReason") for c in r["component"]
        ]:
            if reason:
                assert reason["coding"][0]["system"] == DATA_ABSENT_SYSTEM
                assert reason["coding"][0]["code"] in DATA_ABSENT_CODES
    for r in _of(bundle, "Media"):
        assert r["status"] in EVENT_STATUSES and r["status"] == "completed"
    for r in _of(bundle, "Patient"):
        assert r["gender"] in GENDERS
    for r in _of(bundle, "Device"):
        assert r["status"] in DEVICE_STATUSES
        assert all(n["type"] in DEVICE_NAME_TYPES for n in r["deviceName"])
    # no NaN or infinity anywhere: strict JSON round trip
    assert json.loads(fhir_json(bundle)) == bundle


def _timestamps(node, key: str = "") -> list[str]:
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in _timestamps(v, k)]
    if isinstance(node, list):
        return [t for v in node for t in _timestamps(v, key)]
    if key in {
        "timestamp",
        "issued",
        "effectiveDateTime",
        "createdDateTime",
        "creation",
        "start",
        "end",
    }:
        return [node]
    return []


def test_single_photo_bundle_validates_and_carries_the_exact_pdf(one):
    result, pdf = one
    bundle = fhir_bundle([result], pdf, created=CREATED, study_uid="2.25.1234")
    _validate(bundle)
    _check_structure(bundle)
    kinds = [r["resourceType"] for r in _resources(bundle)]
    assert kinds.count("DiagnosticReport") == 1 and kinds.count("Patient") == 1
    assert kinds.count("Device") == 2 and kinds.count("Observation") == 2
    assert "Media" not in kinds  # no photo unless asked

    (report,) = _of(bundle, "DiagnosticReport")
    (form,) = report["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert base64.b64decode(form["data"]) == pdf
    assert form["size"] == len(pdf)
    assert (
        report["code"]["text"] == "Facial dysmorphology screening (screening aid, not a diagnosis)"
    )
    assert report["category"][0]["coding"][0]["code"] == "OTH"
    assert report["conclusion"].startswith(DISCLAIMER)
    assert "\n" not in report["conclusion"]
    assert report["identifier"] == [{"system": "urn:dicom:uid", "value": "urn:oid:2.25.1234"}]
    assert len(report["result"]) == 2
    # every timestamp carries a time zone
    stamps = _timestamps(bundle)
    assert stamps and all(t.endswith("+00:00") for t in stamps)


def test_patient_is_pseudonymous(one):
    result, pdf = one
    bundle = fhir_bundle([result], pdf, created=CREATED)
    (patient,) = _of(bundle, "Patient")
    assert set(patient) == {"resourceType", "identifier", "gender"}
    assert patient["identifier"] == [{"system": PATIENT_ID_SYSTEM, "value": PATIENT_ID}]
    assert patient["gender"] == "female"
    text = json.dumps(bundle, ensure_ascii=False)
    # the photo's file name, the operator and the notes never leave (the PDF is base64, and the
    # report without include_photo_name does not carry the file name either)
    for secret in (PHOTO_LABEL, OPERATOR, NOTES):
        assert secret not in text


def test_observations_values_absent_reasons_and_devices(one):
    result, pdf = one
    bundle = fhir_bundle([result], pdf, created=CREATED)
    urls = {id(e["resource"]): e["fullUrl"] for e in bundle["entry"]}
    devices = {d["deviceName"][0]["name"]: d for d in _of(bundle, "Device")}
    assert devices["demo-resnet"]["version"][0]["value"] == SHA_A
    assert devices["demo-resnet"]["type"]["text"] == "DysmorphDesk screening model"
    assert devices["demo-resnet"]["property"][0]["valueCode"][0]["text"] == "demonstration"
    assert devices["second-model"]["property"][0]["valueCode"][0]["text"] == "research"

    good, absent = _of(bundle, "Observation")
    assert good["code"]["text"] == "Syndromic probability (demo-resnet)"
    # the JSON's rounded value, as a dimensionless UCUM quantity
    json_value = result.to_json()["results"][0]["syndromic_probability"]
    assert good["valueQuantity"] == {
        "value": json_value, "unit": "1", "system": "http://unitsofmeasure.org", "code": "1"
    }  # fmt: skip
    assert good["category"][0]["coding"][0]["code"] == "exam"
    assert good["method"]["text"].endswith("gradcam")
    assert good["device"]["reference"] == urls[id(devices["demo-resnet"])]
    assert any("not a diagnosis" in n["text"] for n in good["note"])
    comps = {c["code"]["text"]: c for c in good["component"]}
    assert comps["At or above the screening threshold (flagged)"]["valueBoolean"] is True
    assert comps["Screening threshold"]["valueQuantity"]["value"] == 0.5
    assert comps["Most likely class"]["valueString"] == "Noonan syndrome"

    # not assessable: a reason, no value
    assert not any(k.startswith("value") for k in absent)
    assert absent["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert absent["dataAbsentReason"]["text"] == "face turned too far (yaw 41°)"
    assert any("face turned too far" in n["text"] for n in absent["note"])
    assert absent["device"]["reference"] == urls[id(devices["second-model"])]
    flag = next(c for c in absent["component"] if "flagged" in c["code"]["text"])
    assert "valueBoolean" not in flag and flag["dataAbsentReason"]


def test_non_finite_probability_is_never_a_value(one):
    _, pdf = one
    bad = _result(probability=0.8)
    bad.results[0].syndromic_probability = math.nan  # defensive: the pipeline already refuses it
    bundle = fhir_bundle([bad], pdf, created=CREATED)
    _validate(bundle)
    _check_structure(bundle)
    assert all("valueQuantity" not in o for o in _of(bundle, "Observation"))


def test_visit_with_photos_as_media(one):
    _, pdf = one
    results = [
        _result(1, created="2024-05-01T10:30:00+00:00"),
        _result(2, created="2024-05-01T10:31:00Z", probability=0.3),
    ]
    visit = {  # VisitResult.to_json(): the shape screening/visit.py writes
        "photos": 2,
        "photo_sha256s": [r.photo_sha256 for r in results],
        "fusion": "mean of the assessable photos' logits, then softmax at the model's temperature",
        "results": [
            {
                "model": "demo-resnet", "model_status": "demonstration", "bundle_sha256": SHA_A,
                "photos_assessed": 2, "photos_total": 2, "syndromic_probability": 0.612345,
                "threshold": 0.5, "flagged": True, "assessable": True,
                "cannot_assess_reason": None, "photos_disagree": True,
            },
            {
                "model": "second-model", "model_status": "research", "bundle_sha256": SHA_B,
                "photos_assessed": 0, "photos_total": 2, "syndromic_probability": None,
                "threshold": 0.5, "flagged": None, "assessable": False,
                "cannot_assess_reason": "no photo of the visit could be assessed: face turned",
                "photos_disagree": False,
            },
        ],
        "warnings": [],
    }  # fmt: skip
    photos = [_jpeg(r.photo) for r in results]
    bundle = fhir_bundle(
        results, pdf, visit=visit, include_photo=True, photos=photos, created=CREATED
    )
    _validate(bundle)
    _check_structure(bundle)
    media = _of(bundle, "Media")
    assert [base64.b64decode(m["content"]["data"]) for m in media] == photos
    assert all(m["content"]["contentType"] == "image/jpeg" for m in media)
    assert (media[0]["width"], media[0]["height"]) == (100, 120)
    assert PHOTO_LABEL not in json.dumps(bundle, ensure_ascii=False)
    (report,) = _of(bundle, "DiagnosticReport")
    assert len(report["media"]) == 2
    assert report["effectivePeriod"] == {
        "start": "2024-05-01T10:30:00+00:00",
        "end": "2024-05-01T10:31:00+00:00",
    }
    observations = _of(bundle, "Observation")
    assert len(observations) == 2 * 2 + 2 and len(report["result"]) == 6
    fused = [o for o in observations if o["code"]["text"].endswith(", visit")]
    assert fused[0]["valueQuantity"]["value"] == 0.612345
    assert len(fused[0]["derivedFrom"]) == 2  # the photos' observations of that model
    assert any("disagree" in n["text"] for n in fused[0]["note"])
    assert "dataAbsentReason" in fused[1] and "valueQuantity" not in fused[1]
    assert "Visit of 2 photos" in report["conclusion"]
    # each photo's observations point at their photo
    media_urls = {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Media"}
    per_photo = [o for o in observations if o not in fused]
    assert all(o["derivedFrom"][0]["reference"] in media_urls for o in per_photo)


def test_pure_same_inputs_same_bundle(one):
    result, pdf = one
    a = fhir_bundle([result], pdf, created=CREATED)
    assert fhir_bundle([result], pdf, created=CREATED) == a
    b = fhir_bundle([result], pdf, created="2024-05-02T10:30:00+02:00")
    assert b["timestamp"] == "2024-05-02T10:30:00+02:00"
    assert {e["fullUrl"] for e in a["entry"]}.isdisjoint(e["fullUrl"] for e in b["entry"])


def test_unknown_sex_no_id_and_bad_inputs(one):
    result, pdf = one
    anon = _result()
    anon.case = CaseInfo(sex="unknown")
    bundle = fhir_bundle([anon], pdf, created=CREATED)
    _validate(bundle)
    (patient,) = _of(bundle, "Patient")
    assert patient == {"resourceType": "Patient", "gender": "unknown"}
    with pytest.raises(ValueError, match="one patient"):
        fhir_bundle([result, anon], pdf)
    with pytest.raises(ValueError, match="JPEG"):
        fhir_bundle([result], pdf, include_photo=True)
    with pytest.raises(ValueError, match="JPEG"):
        fhir_bundle([result], pdf, include_photo=True, photos=[b"\x89PNG..."])
    with pytest.raises(ValueError):
        fhir_bundle([], pdf)
    with pytest.raises(ValueError):
        fhir_json({"x": math.nan})


def test_write_fhir_atomic_and_refuses_overwrite(one, tmp_path):
    result, pdf = one
    out = tmp_path / "screening.fhir.json"
    write_fhir(out, [result], pdf, created=CREATED)
    data = json.loads(out.read_text("utf-8"))
    assert data == fhir_bundle([result], pdf, created=CREATED)
    with pytest.raises(UsageError):
        write_fhir(out, [result], pdf, created=CREATED)
    write_fhir(out, [result], pdf, force=True, created="2024-06-01T00:00:00+00:00")
    assert json.loads(out.read_text("utf-8"))["timestamp"] == "2024-06-01T00:00:00+00:00"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_validation_is_not_vacuous(one):
    """The R4B models reject an unknown element and a time without a zone: the checks above bite."""
    import pydantic

    result, pdf = one
    bundle = fhir_bundle([result], pdf, created=CREATED)
    broken = copy.deepcopy(bundle)
    next(r for r in _resources(broken) if r["resourceType"] == "Observation")["bogus"] = 1
    with pytest.raises(pydantic.ValidationError):
        Bundle.model_validate(broken)
    naive = copy.deepcopy(bundle)
    next(r for r in _resources(naive) if r["resourceType"] == "Observation")[
        "effectiveDateTime"
    ] = "2024-05-01T10:30:00"
    with pytest.raises(pydantic.ValidationError):
        Bundle.model_validate(naive)
