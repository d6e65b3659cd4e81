"""FHIR from the case store: ``cases export UID --format fhir`` and the JSON builder under it.

The bundle of a filed visit is built from the photo JSON the store keeps, by the same builder as
``screen --fhir``: the tests check that both give the same bundle (up to the export time).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path

import pytest

from dysmorph_desk.records.export import photo_json, visit_pdf, visit_photos_json
from dysmorph_desk.records.fhir import (
    fhir_bundle,
    fhir_bundle_from_json,
    visit_fhir_bundle,
)
from dysmorph_desk.records.store import CaseStore
from tests import fakes
from tests.cli_helpers import run

CREATED = "2024-07-01T09:00:00+00:00"
PDF = b"%PDF-1.4\n% a visit report\n%%EOF\n"


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _validate(bundle: dict) -> None:
    """Each resource, then the whole Bundle, with the R4B models of fhir.resources."""
    pytest.importorskip("fhir.resources", reason="fhir.resources validates the bundle")
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    for entry in bundle["entry"]:
        res = entry["resource"]
        get_fhir_model_class(res["resourceType"]).model_validate(copy.deepcopy(res))
    Bundle.model_validate(copy.deepcopy(bundle))


def _normalised(bundle: dict) -> dict:
    """The bundle without what depends on when it was made: the export time and the UUIDs
    derived from it (each entry's URL becomes its position)."""
    text = json.dumps(bundle)
    for i, entry in enumerate(bundle["entry"]):
        text = text.replace(entry["fullUrl"], f"entry-{i}")
    out = json.loads(text)
    out.pop("timestamp"), out.pop("identifier")
    for res in (e["resource"] for e in out["entry"]):
        res.pop("issued", None)
        for form in res.get("presentedForm", []):
            form.pop("creation")
    return out


def _visit_json(results) -> dict:
    """A fused visit result as ``VisitResult.to_json()`` writes it, for the fakes' two models."""
    return {
        "photos": len(results),
        "photo_sha256s": [r.photo_sha256 for r in results],
        "fusion": "mean of the assessable photos' logits, then softmax at the model's temperature",
        "results": [
            {
                "model": m.model, "model_status": "demonstration",
                "bundle_sha256": m.bundle_sha256, "photos_assessed": len(results),
                "photos_total": len(results), "probabilities": None,
                "syndromic_probability": 0.65, "threshold": 0.5, "flagged": True,
                "assessable": True, "cannot_assess_reason": None, "photos_disagree": False,
                "per_photo_syndromic_probability": [0.7, 0.6],
            }
            for m in results[0].results
        ],
        "warnings": [],
    }  # fmt: skip


@pytest.fixture
def filed_visit(store_path):
    """A visit of two photos, each screened by two models, with its fused result."""
    case = fakes.case("P-0042", operator="Dr A")
    a, b = fakes.photo_bytes(), fakes.photo_bytes()
    results = [
        fakes.result(a, case, ("demo", "other"), prob=0.7),
        fakes.result(b, case, ("demo", "other"), prob=0.6),
    ]
    results[1].created = "2024-05-01T10:31:00+00:00"
    results[1].results[1] = fakes.model_result("other", assessable=False)
    visit = _visit_json(results)
    with CaseStore(store_path) as store:
        uid, _ = store.file_screening(case, [(a, results[0]), (b, results[1])], visit)
        record = store.get_case(uid)
    return results, visit, record.visits[0]


# --- the builder: from the stored JSON, the same bundle as from the live results ----------------


def test_stored_rows_merge_back_into_the_photos_json(filed_visit):
    results, _, visit = filed_visit
    assert [len(p.results) for p in visit.photos] == [2, 2]  # one row per model
    assert visit_photos_json(visit) == [r.to_json() for r in results]


def test_visit_bundle_from_the_store_equals_the_live_one(filed_visit):
    results, fused, visit = filed_visit
    stored = visit_fhir_bundle(visit, PDF, created=CREATED)
    live = fhir_bundle(results, PDF, visit=fused, created=CREATED, study_uid=visit.study_uid)
    assert stored == live
    _validate(stored)
    (report,) = _resources(stored, "DiagnosticReport")
    assert report["identifier"] == [
        {"system": "urn:dicom:uid", "value": f"urn:oid:{visit.study_uid}"}
    ]
    assert base64.b64decode(report["presentedForm"][0]["data"]) == PDF
    assert len(_resources(stored, "Observation")) == 2 * 2 + 2


def test_fhir_bundle_is_the_json_builder(filed_visit):
    results, fused, _ = filed_visit
    docs = [r.to_json() for r in results]
    assert fhir_bundle_from_json(docs, PDF, visit=fused, created=CREATED) == fhir_bundle(
        results, PDF, visit=fused, created=CREATED
    )


def test_a_photo_screened_again_gives_its_latest_screening(store_path):
    case = fakes.case()
    data = fakes.photo_bytes()
    first = fakes.result(data, case, ("demo", "other"), prob=0.7)
    with CaseStore(store_path) as store:
        uid, _ = store.file_screening(case, [(data, first)], None)
        photo_id = store.get_case(uid).photos[0].id
        again = fakes.result(data, case, ("other",), prob=0.2)
        again.created = "2024-05-02T08:00:00+00:00"
        for twice in (again, again):  # the same screening filed twice: one result per model
            doc = twice.to_json()
            store.add_result(photo_id, "other", twice.results[0].bundle_sha256, doc)
        (photo,) = store.get_case(uid).photos
    merged = photo_json(photo)
    assert merged == again.to_json()  # "demo" of the earlier screening does not come back
    assert [m["model"] for m in merged["results"]] == ["other"]


def test_missing_status_label_is_derived_and_missing_fields_are_clear(filed_visit):
    results, _, _ = filed_visit
    doc = results[0].to_json()
    full = fhir_bundle_from_json([doc], PDF, created=CREATED)
    for m in doc["results"]:
        del m["model_status_label"]
    assert fhir_bundle_from_json([doc], PDF, created=CREATED) == full
    del doc["results"][0]["bundle_sha256"]
    with pytest.raises(ValueError, match="bundle_sha256"):
        fhir_bundle_from_json([doc], PDF)
    with pytest.raises(ValueError, match="created"):
        fhir_bundle_from_json([{"photo_sha256": "ab" * 32, "results": []}], PDF)


def test_a_fused_result_of_other_photos_is_refused(filed_visit, store_path):
    _, fused, _ = filed_visit
    stale = {**fused, "photo_sha256s": fused["photo_sha256s"][:1]}
    with CaseStore(store_path) as store:
        case_uid = store.find_cases()[0].uid
        visit_uid = store.get_case(case_uid).visits[0].uid
        store.add_visit_result(visit_uid, stale)
        visit = store.get_case(case_uid).visits[0]
    with pytest.raises(ValueError, match="fused result"):
        visit_fhir_bundle(visit, PDF)


def test_visit_pdf_is_the_latest_unchanged_one(filed_visit, store_path, tmp_path):
    _, _, visit = filed_visit
    assert visit_pdf(visit) is None
    old, new = tmp_path / "old.pdf", tmp_path / "new.pdf"
    old.write_bytes(b"%PDF old")
    new.write_bytes(b"%PDF new")
    with CaseStore(store_path) as store:
        for f in (old, new):
            store.add_export(visit.uid, "pdf", f, hashlib.sha256(f.read_bytes()).hexdigest())
        store.add_export(visit.uid, "json", old, hashlib.sha256(b"%PDF old").hexdigest())
        case_uid = store.find_cases()[0].uid
        visit = store.get_case(case_uid).visits[0]
    assert visit_pdf(visit) == b"%PDF new"
    new.write_bytes(b"%PDF changed since")
    assert visit_pdf(visit) == b"%PDF old"
    old.unlink()
    assert visit_pdf(visit) is None


# --- the CLI: a case filed by `screen --store-path ... --report` --------------------------------


def _screen(capsys, test_bundle, store: Path, *argv) -> tuple[int, str, str]:
    return run(
        capsys,
        "screen",
        *argv,
        "--model",
        test_bundle,
        "--cam",
        "none",
        "--store-path",
        store,
        "--patient-id",
        "P-0099",
        "--sex",
        "female",
        "--age",
        "30",
    )


@pytest.fixture
def screened(capsys, test_bundle, portraits, tmp_path):
    """A visit of two photos filed by ``screen --visit --store-path``, with its PDF and FHIR."""
    store, pdf, fhir = tmp_path / "store", tmp_path / "visit.pdf", tmp_path / "screen.fhir.json"
    code, _, err = _screen(
        capsys,
        test_bundle,
        store,
        portraits["grace_hopper"],
        portraits["astronaut"],
        "--visit",
        "--report",
        pdf,
        "--fhir",
        fhir,
    )
    assert code == 0, err
    with CaseStore(store) as s:
        (summary,) = s.find_cases()
    return store, summary.uid, pdf, fhir


def test_cases_export_fhir(capsys, screened, tmp_path):
    store, uid, pdf, screen_fhir = screened
    out = tmp_path / "case.fhir.json"
    code, stdout, err = run(
        capsys, "cases", "export", uid[:8], "--format", "fhir", "--out", out, "--store-path", store
    )
    assert code == 0, err
    assert stdout.strip() == str(out) and "the only visit" in err
    bundle = json.loads(out.read_text(encoding="utf-8"))
    _validate(bundle)

    with CaseStore(store) as s:
        record = s.get_case(uid)
        audit = [e.action for e in s.audit_log(uid)]
    (visit,) = record.visits
    (report,) = _resources(bundle, "DiagnosticReport")
    assert base64.b64decode(report["presentedForm"][0]["data"]) == pdf.read_bytes()
    assert report["identifier"] == [
        {"system": "urn:dicom:uid", "value": f"urn:oid:{visit.study_uid}"}
    ]
    # the Observations are the stored probabilities: one per photo, then the fused one
    stored = [
        m["syndromic_probability"]
        for p in visit.photos
        for r in p.results
        for m in r.result["results"]
    ]
    fused = [m["syndromic_probability"] for m in visit.visit_results[-1].result["results"]]
    values = [o["valueQuantity"]["value"] for o in _resources(bundle, "Observation")]
    assert len(stored) == 2 and values == stored + fused
    # the same bundle `screen --fhir` wrote when the visit was screened (but for the export time)
    assert _normalised(bundle) == _normalised(json.loads(screen_fhir.read_text("utf-8")))
    # recorded on the visit, and audited
    last = visit.exports[-1]
    assert (last.kind, last.path) == ("fhir", str(out.resolve()))
    assert last.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert [e.kind for e in visit.exports] == ["pdf", "fhir", "fhir"]  # screen's, then ours
    assert audit.count("exported") == 3


def test_cases_export_fhir_force(capsys, screened, tmp_path):
    store, uid, _, _ = screened
    out = tmp_path / "case.fhir.json"
    out.write_text("keep me")
    argv = ["cases", "export", uid, "--format", "fhir", "--out", out, "--store-path", store]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "exists; use --force" in err and out.read_text() == "keep me"
    code, _, err = run(capsys, *argv, "--force")
    assert code == 0, err
    assert json.loads(out.read_text("utf-8"))["resourceType"] == "Bundle"


def test_cases_export_fhir_without_the_pdf_on_disk(capsys, screened, tmp_path):
    store, uid, pdf, _ = screened
    out = tmp_path / "case.fhir.json"
    argv = ["cases", "export", uid, "--format", "fhir", "--out", out, "--store-path", store]
    pdf.write_bytes(pdf.read_bytes() + b"\n% edited")  # changed since it was exported
    code, _, err = run(capsys, *argv)
    assert code == 2 and not out.exists()
    (line,) = [x for x in err.splitlines() if "error" in x]
    assert "no PDF report of visit" in line and "export a PDF report of it first" in line
    pdf.unlink()
    assert run(capsys, *argv)[0] == 2 and not out.exists()
    with CaseStore(store) as s:
        assert [e.kind for e in s.get_case(uid).visits[0].exports] == ["pdf", "fhir"]


def test_cases_export_fhir_of_several_visits(capsys, test_bundle, portraits, screened, tmp_path):
    store, uid, pdf, _ = screened
    # a second visit of the same patient, filed without a report
    code, _, err = _screen(capsys, test_bundle, store, portraits["grace_hopper"])
    assert code == 0, err
    with CaseStore(store) as s:
        first, second = s.get_case(uid).visits
    out = tmp_path / "case.fhir.json"
    argv = ["cases", "export", uid, "--format", "fhir", "--out", out, "--store-path", store]
    code, _, err = run(capsys, *argv)  # the latest visit: it has no PDF
    assert code == 2 and "the latest of 2 visits" in err and second.uid[:8] in err
    assert not out.exists()

    code, _, err = run(capsys, *argv, "--visit", first.uid[:6].upper())
    assert code == 0, err
    assert f"exporting visit {first.date} ({first.uid}): given by --visit" in err
    bundle = json.loads(out.read_text("utf-8"))
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["identifier"][0]["value"] == f"urn:oid:{first.study_uid}"
    assert base64.b64decode(report["presentedForm"][0]["data"]) == pdf.read_bytes()
    with CaseStore(store) as s:
        first, second = s.get_case(uid).visits
    assert first.exports[-1].kind == "fhir" and [e.kind for e in second.exports] == []

    for bad, message in (("ffffffffff", "has no visit"), ("zz", "--visit takes a visit UID")):
        if first.uid.startswith(bad) or second.uid.startswith(bad):
            continue
        code, _, err = run(capsys, *argv, "--force", "--visit", bad)
        assert code == 2 and message in err
    code, _, err = run(
        capsys, "cases", "export", uid, "--format", "json", "--out", tmp_path / "c.json",
        "--store-path", store, "--visit", first.uid,
    )  # fmt: skip
    assert code == 2 and "--visit is for fhir and dicom" in err


def test_cases_export_dicom_of_a_visit(capsys, test_bundle, portraits, screened, tmp_path):
    pydicom = pytest.importorskip("pydicom")
    store, uid, _, _ = screened
    code, _, err = _screen(capsys, test_bundle, store, portraits["grace_hopper"])
    assert code == 0, err
    with CaseStore(store) as s:
        first, second = s.get_case(uid).visits
    out = tmp_path / "visit.dcm"
    argv = ["cases", "export", uid, "--format", "dicom", "--out", out, "--store-path", store]
    code, _, err = run(capsys, *argv, "--visit", second.uid)
    assert code == 2 and "export a PDF report of it first" in err and not out.exists()
    code, _, err = run(capsys, *argv)  # the latest visit with a PDF report: the first
    assert code == 0, err
    assert f"exporting visit {first.date} ({first.uid}): the latest with a PDF report" in err
    assert pydicom.dcmread(out).StudyInstanceUID == first.study_uid
    with CaseStore(store) as s:
        first, second = s.get_case(uid).visits
    assert first.exports[-1].kind == "dicom" and second.exports == []
