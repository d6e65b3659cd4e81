"""The command-line contract of README.md: stdout/stderr separation, JSON shape, exit codes, privacy.

In-process tests call ``dysmorph_desk.cli.main`` with capsys. Loading a bundle and warming up
MTCNN costs seconds on a small CPU, so ``_reuse_screener`` keeps the Screener that the real
``_load_screener`` built for an unchanged bundle file and hands it to later tests (settings are
still read per test). Loading itself is exercised where it matters: missing and tampered bundles
(never cached, they fail) and the subprocess tests, which run the CLI exactly as a user does.
Torch runs on one thread here: on a small machine shared with other work, oversubscribed OpenMP
threads make a screening 20-50x slower, and one thread changes no result.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import dysmorph_desk.cli.screen as cli_screen
from tests.cli_helpers import run

REPO = Path(__file__).resolve().parents[1]
PRIVATE_NAME = "patient_smith_2024.jpg"
_SCREENERS: dict = {}


def _stamp(name: str):
    p = Path(name)
    if p.is_file():
        st = p.stat()
        return (str(p.resolve()), st.st_size, st.st_mtime_ns)
    return name


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _reuse_screener(monkeypatch):
    real = cli_screen._load_screener

    def cached(model_names, device_pref, runtime="onnx", allow_unvalidated=False):
        from dysmorph_desk.settings import Settings

        names = tuple(model_names or ())
        key = (tuple(_stamp(n) for n in names), device_pref, runtime, allow_unvalidated)
        if key not in _SCREENERS:
            _SCREENERS[key] = real(model_names, device_pref, runtime, allow_unvalidated)[0]
        return _SCREENERS[key], Settings.load()

    monkeypatch.setattr(cli_screen, "_load_screener", cached)


def screen(capsys, bundle, *argv) -> tuple[int, str, str]:
    return run(capsys, "screen", *argv, "--model", bundle)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    meta = " ".join(str(v) for v in (reader.metadata or {}).values())
    return text + "\n" + meta


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory, portraits) -> Path:
    """Grace Hopper at 1x beside the astronaut scaled 2.5x (and cropped): the astronaut's face is larger."""
    grace = Image.open(portraits["grace_hopper"]).convert("RGB")
    astro = Image.open(portraits["astronaut"]).convert("RGB")
    astro = astro.resize((astro.width * 5 // 2, astro.height * 5 // 2), Image.LANCZOS).crop(
        (300, 0, 850, 600)
    )
    canvas = Image.new(
        "RGB", (grace.width + astro.width, max(grace.height, astro.height)), (128, 128, 128)
    )
    canvas.paste(grace, (0, 0))
    canvas.paste(astro, (grace.width, 0))
    path = tmp_path_factory.mktemp("two") / "two_faces.png"
    canvas.save(path)
    return path


# --- screen: JSON on stdout ---------------------------------------------------------------------


def test_json_stdout_shape(capsys, test_bundle, portraits):
    photo = portraits["grace_hopper"]
    code, out, err = screen(
        capsys, test_bundle, photo, "--json", "-", "--age", "30", "--sex", "female"
    )
    assert code == 0, err
    doc = json.loads(out)  # stdout is JSON and nothing else
    assert doc["schema_version"] == 2 and doc["visit"] is None and doc["refused"] == []
    assert "not a diagnosis" in doc["disclaimer"]
    (data,) = doc["photos"]
    assert (
        "screened 1 of 1" in err and "screening photo 1/1" in err
    )  # summary and progress on stderr
    for key in (
        "photo_sha256",
        "faces_detected",
        "quality",
        "warnings",
        "disclaimer",
        "results",
    ):
        assert key in data, key
    assert data["photo_sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert data["faces_detected"] == 1
    assert "not a diagnosis" in data["disclaimer"]
    assert isinstance(data["warnings"], list)
    assert data["quality"]
    for name, check in data["quality"].items():
        assert {"value", "unit", "limit", "pass"} <= set(check), name
        assert isinstance(check["pass"], bool)
    assert len(data["results"]) == 1
    r = data["results"][0]
    assert r["model"] == "test-hybrid"
    assert r["model_status"] == "demonstration"
    assert len(r["bundle_sha256"]) == 64
    assert r["assessable"] is True
    probs = r["probabilities"]
    assert set(probs) == set(r["class_names"]) == {"syndromic_like", "control"}
    assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-4)
    assert r["predicted"] == max(probs, key=probs.get)
    assert math.isclose(r["syndromic_probability"], probs["syndromic_like"], abs_tol=1e-6)
    assert r["threshold"] == 0.5
    assert r["flagged"] == (r["syndromic_probability"] >= r["threshold"])


def test_json_and_report_files(capsys, test_bundle, portraits, tmp_path):
    out_json, out_pdf = tmp_path / "r.json", tmp_path / "r.pdf"
    code, out, err = screen(
        capsys,
        test_bundle,
        portraits["grace_hopper"],
        "--cam",
        "none",
        "--json",
        out_json,
        "--report",
        out_pdf,
    )
    assert code == 0, err
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert doc["photos"][0]["results"][0]["assessable"] is True
    assert out_pdf.read_bytes().startswith(b"%PDF")
    assert "screened 1 of 1" in out  # without --json -, the summary is the stdout result


# --- batches --------------------------------------------------------------------------------------


def test_batch_same_stem_and_corrupt_photo(capsys, test_bundle, portraits, tmp_path):
    a, b, c = (tmp_path / d for d in ("a", "b", "c"))
    for d in (a, b, c):
        d.mkdir()
    shutil.copy(portraits["grace_hopper"], a / "x.jpg")
    shutil.copy(portraits["grace_hopper"], b / "x.jpg")
    data = portraits["grace_hopper"].read_bytes()
    (c / "broken.jpg").write_bytes(data[: len(data) // 3])  # truncated JPEG
    (c / "notes.jpg").write_text("not a photo at all\n", encoding="utf-8")  # text renamed .jpg
    out_dir = tmp_path / "out"
    code, out, err = screen(
        capsys,
        test_bundle,
        a / "x.jpg",
        c / "broken.jpg",
        c / "notes.jpg",
        b / "x.jpg",
        "--out-dir",
        out_dir,
        "--cam",
        "none",
    )
    assert code == 3
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "summary.csv",
        "x-2.json",
        "x-2.pdf",
        "x.json",
        "x.pdf",
    ]
    for name in ("x.json", "x-2.json"):
        assert json.loads((out_dir / name).read_text(encoding="utf-8"))["photos"][0]["results"]
    rows = list(csv.DictReader(io.StringIO((out_dir / "summary.csv").read_text("utf-8"))))
    assert [r["photo"] for r in rows] == ["1", "2", "3", "4"]  # refused photos have their row
    assert rows[1]["reason"] and rows[2]["reason"] and not rows[0]["reason"]
    assert "Traceback" not in err
    refusals = [line for line in err.splitlines() if "refused" in line]
    # photos are named by position (file names can identify patients)
    assert any(line.startswith("photo 2/4: refused:") for line in refusals), err
    assert any(line.startswith("photo 3/4: refused:") for line in refusals), err
    assert out.strip().splitlines()[-1].startswith("screened 2 of 4 photo(s); 2 refused")


def test_batch_names_never_collide(capsys, test_bundle, portraits, tmp_path):
    """x.jpg, x.jpg, x-2.jpg, X.jpg: no photo takes (or is refused for) another's output name,
    not even on a case-insensitive file system."""
    for d in ("a", "b", "c", "d"):
        (tmp_path / d).mkdir()
    photos = [
        tmp_path / "a" / "x.jpg",
        tmp_path / "b" / "x.jpg",
        tmp_path / "c" / "x-2.jpg",
        tmp_path / "d" / "X.jpg",
    ]
    for p in photos:
        shutil.copy(portraits["grace_hopper"], p)
    out_dir = tmp_path / "out"
    code, _, err = screen(
        capsys, test_bundle, *photos, "--out-dir", out_dir, "--no-report", "--cam", "none"
    )
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir() if p.name != "summary.csv")
    assert len(names) == 4 and len({n.casefold() for n in names}) == 4, names
    assert {"x.json", "x-2.json"} <= set(names)


def test_batch_json_stdout_is_one_document(capsys, test_bundle, portraits):
    code, out, err = screen(
        capsys,
        test_bundle,
        portraits["grace_hopper"],
        portraits["astronaut"],
        "--json",
        "-",
        "--cam",
        "none",
    )
    assert code == 0, err
    doc = json.loads(out)  # one object whatever the number of photos (schema 2)
    data = doc["photos"]
    assert len(data) == 2  # every photo screened, not just the first
    assert [d["photo_sha256"] for d in data] == [
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (portraits["grace_hopper"], portraits["astronaut"])
    ]
    assert "screened 2 of 2 photo(s); 0 refused" in err


def test_batch_summary_on_stdout(capsys, test_bundle, portraits):
    code, out, err = screen(
        capsys, test_bundle, portraits["grace_hopper"], portraits["astronaut"], "--cam", "none"
    )
    assert code == 0, err
    assert "photo 2/2" in out and out.strip().splitlines()[-1].startswith("screened 2 of 2")


# --- existing outputs -----------------------------------------------------------------------------


def test_existing_output_needs_force(capsys, test_bundle, portraits, tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    code, _, err = screen(capsys, test_bundle, portraits["grace_hopper"], "--json", target)
    assert code == 2
    assert "--force" in err and "screening" not in err  # refused before any work
    assert target.read_text(encoding="utf-8") == "old"

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "grace_hopper.pdf").write_bytes(b"old")
    code, _, err = screen(capsys, test_bundle, portraits["grace_hopper"], "--out-dir", out_dir)
    assert code == 2 and "screening" not in err
    assert not (out_dir / "grace_hopper.json").exists()

    code, _, err = screen(
        capsys,
        test_bundle,
        portraits["grace_hopper"],
        "--json",
        target,
        "--force",
        "--cam",
        "none",
    )
    assert code == 0, err
    assert json.loads(target.read_text(encoding="utf-8"))["schema_version"] == 2


# --- bundles --------------------------------------------------------------------------------------


def test_missing_bundle_exit_4(capsys, portraits):
    code, out, err = screen(capsys, "/nonexistent.ddbundle", portraits["grace_hopper"])
    assert code == 4
    assert "not found" in err and "Traceback" not in err
    assert out == ""


def test_tampered_bundle_exit_4(capsys, test_bundle, portraits, tmp_path):
    bad = tmp_path / "tampered.ddbundle"
    data = bytearray(test_bundle.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    code, _, err = screen(capsys, bad, portraits["grace_hopper"])
    assert code == 4
    assert "SHA-256 digest mismatch" in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    code, _, err = run(capsys, "--debug", "screen", portraits["grace_hopper"], "--model", bad)
    assert code == 4
    assert "Traceback" in err and "SHA-256 digest mismatch" in err


# --- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ("--face", "0"),
        ("--age", "-3"),
        ("--sex", "other"),
        ("--cam", "blurcam"),
        ("--prevalence", "1.5"),
    ],
)
def test_usage_errors_exit_2(capsys, test_bundle, portraits, extra):
    code, out, err = screen(capsys, test_bundle, portraits["grace_hopper"], *extra)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err


def test_several_photos_need_out_dir(capsys, test_bundle, portraits, tmp_path):
    code, _, err = screen(
        capsys,
        test_bundle,
        portraits["grace_hopper"],
        portraits["astronaut"],
        "--report",
        tmp_path / "r.pdf",
    )
    assert code == 2 and "--out-dir" in err


# --- refusals and cannot-assess -------------------------------------------------------------------


def test_no_face_exit_3(capsys, test_bundle, tmp_path):
    grey = tmp_path / "grey.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(grey)
    code, out, err = screen(capsys, test_bundle, grey, "--json", "-")
    assert code == 3
    assert "no face" in err and "Traceback" not in err
    doc = json.loads(out)  # nothing screened, and stdout is still valid JSON
    assert doc["photos"] == [] and doc["refused"][0]["photo"] == 1
    assert "no face" in doc["refused"][0]["reason"]


def test_age_outside_validated_range(capsys, test_bundle, portraits):
    code, out, err = screen(
        capsys, test_bundle, portraits["grace_hopper"], "--age", "200", "--json", "-"
    )
    assert code == 0, err
    r = json.loads(out)["photos"][0]["results"][0]
    assert r["assessable"] is False
    assert (
        r["probabilities"] is None and r["syndromic_probability"] is None and r["flagged"] is None
    )
    assert "validated range" in r["cannot_assess_reason"] and "6-144" in r["cannot_assess_reason"]
    assert "cannot assess" in err

    code, out, err = screen(
        capsys,
        test_bundle,
        portraits["grace_hopper"],
        "--age",
        "200",
        "--json",
        "-",
        "--force-assess",
        "--cam",
        "none",
    )
    assert code == 0, err
    data = json.loads(out)["photos"][0]
    r = data["results"][0]
    assert r["assessable"] is True and r["forced_assessment"] is True
    assert math.isclose(sum(r["probabilities"].values()), 1.0, abs_tol=1e-4)
    assert any("force-assess" in w for w in data["warnings"]), data["warnings"]


# --- privacy --------------------------------------------------------------------------------------


def test_photo_name_not_in_outputs(capsys, test_bundle, portraits, tmp_path):
    photo = tmp_path / PRIVATE_NAME
    shutil.copy(portraits["grace_hopper"], photo)
    out_json, out_pdf = tmp_path / "r.json", tmp_path / "r.pdf"
    code, out, err = screen(
        capsys, test_bundle, photo, "--json", out_json, "--report", out_pdf, "--cam", "none"
    )
    assert code == 0, err
    assert "patient_smith" not in out_json.read_text(encoding="utf-8")
    assert "photo_name" not in json.loads(out_json.read_text(encoding="utf-8"))["photos"][0]
    assert "patient_smith" not in pdf_text(out_pdf)
    assert b"patient_smith" not in out_pdf.read_bytes()  # nor in the PDF's metadata
    assert "patient_smith" not in out  # the stdout summary names the photo by hash only
    assert "patient_smith" not in err  # nor do the progress messages

    code, out, err = screen(
        capsys,
        test_bundle,
        photo,
        "--json",
        out_json,
        "--report",
        out_pdf,
        "--force",
        "--include-photo-name",
        "--cam",
        "none",
    )
    assert code == 0, err
    assert json.loads(out_json.read_text(encoding="utf-8"))["photos"][0]["photo_name"] == (
        PRIVATE_NAME
    )
    assert "patient_smith" in pdf_text(out_pdf).replace("\n", "")


# --- several faces --------------------------------------------------------------------------------


def test_several_faces(capsys, test_bundle, two_faces):
    code, out, err = screen(capsys, test_bundle, two_faces, "--json", "-", "--cam", "none")
    assert code == 0, err
    first = json.loads(out)["photos"][0]
    assert first["faces_detected"] == 2
    assert any("2 faces" in w for w in first["warnings"]), first["warnings"]
    assert first["face_index"] == 1
    assert first["face"]["box"][0] > 512  # the larger face is the (scaled) astronaut on the right

    code, out, err = screen(
        capsys, test_bundle, two_faces, "--json", "-", "--cam", "none", "--face", "2"
    )
    assert code == 0, err
    second = json.loads(out)["photos"][0]
    assert second["face_index"] == 2 and second["faces_detected"] == 2
    assert second["face"]["box"] != first["face"]["box"]
    assert second["face"]["box"][2] < 512  # Grace Hopper, on the left

    code, out, err = screen(capsys, test_bundle, two_faces, "--face", "3", "--cam", "none")
    assert code == 3
    assert "face 3" in err and "2 face(s)" in err and "Traceback" not in err


# --- interrupt ------------------------------------------------------------------------------------


def test_keyboard_interrupt_exit_130(capsys, test_bundle, portraits, monkeypatch):
    from dysmorph_desk.screening.pipeline import Screener

    def boom(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Screener, "screen", boom)
    code, _, err = screen(capsys, test_bundle, portraits["grace_hopper"])
    assert code == 130
    assert "interrupted" in err and "Traceback" not in err


# --- models, cache, make-synthetic ----------------------------------------------------------------


def test_models_lists_user_bundles(capsys, test_bundle):
    from dysmorph_desk.utils.paths import user_models_dir

    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(test_bundle, folder / "test-hybrid.ddbundle")
    code, out, err = run(capsys, "models")
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith("test-hybrid"))
    assert "mobilenetv2_bilstm" in line and "user" in line

    code, out, err = run(capsys, "models", "--json")
    assert code == 0, err
    listed = {b["name"]: b for b in json.loads(out)}
    assert listed["test-hybrid"]["source"] == "user"
    assert Path(listed["test-hybrid"]["path"]).parent == folder
    assert listed["test-hybrid"]["card"]["architecture"] == "mobilenetv2_bilstm"

    code, out, err = run(capsys, "models", "--verify")
    assert code == 0, err


def test_screen_by_installed_name(capsys, test_bundle, portraits):
    from dysmorph_desk.utils.paths import user_models_dir

    user_models_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy(test_bundle, user_models_dir() / "test-hybrid.ddbundle")
    code, out, err = screen(
        capsys, "test-hybrid", portraits["grace_hopper"], "--json", "-", "--cam", "none"
    )
    assert code == 0, err
    assert json.loads(out)["photos"][0]["results"][0]["model"] == "test-hybrid"


def test_cache_purge(capsys):
    from dysmorph_desk.utils.paths import faces_cache_dir

    folder = faces_cache_dir() / "ab"
    folder.mkdir(parents=True)
    (folder / "one.png").write_bytes(b"x")
    (folder / "two.refused").write_text("no face found", encoding="utf-8")
    code, out, err = run(capsys, "cache", "--purge")
    assert code == 0, err
    assert "2" in out
    assert not faces_cache_dir().exists() or not any(faces_cache_dir().rglob("*"))

    code, _, _ = run(capsys, "cache", "--purge")  # nothing left: still fine
    assert code == 0
    code, _, err = run(capsys, "cache")
    assert code == 2 and "--purge" in err


def test_make_synthetic(capsys, tmp_path):
    out_dir = tmp_path / "synth"
    code, _, err = run(capsys, "make-synthetic", "--out", out_dir, "--per-class", "2")
    assert code == 0, err
    assert (out_dir / "labels.csv").is_file()
    rows = (out_dir / "labels.csv").read_text(encoding="utf-8").strip().splitlines()
    assert len(rows) == 1 + 2 * 2  # header + per-class x 2 classes
    before = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*"))
    code, _, err = run(capsys, "make-synthetic", "--out", out_dir, "--per-class", "2")
    assert code == 2 and "Traceback" not in err
    assert sorted(p.relative_to(out_dir) for p in out_dir.rglob("*")) == before


# --- the real process -----------------------------------------------------------------------------


def _subprocess(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "dysmorph_desk", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )


def test_subprocess_json_stdout_only(test_bundle, portraits, tmp_path):
    photo = tmp_path / PRIVATE_NAME
    shutil.copy(portraits["grace_hopper"], photo)
    proc = _subprocess(
        ["screen", str(photo), "--json", "-", "--model", str(test_bundle), "--cam", "none"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)["photos"][0]  # the whole of stdout is one JSON document
    assert data["photo_sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert data["results"][0]["assessable"] is True
    assert "patient_smith" not in proc.stdout
    assert "screening photo 1/1" in proc.stderr and "screened 1 of 1" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [PRIVATE_NAME]  # nothing written beside it


def test_subprocess_bundle_error(portraits, tmp_path):
    proc = _subprocess(
        ["screen", str(portraits["grace_hopper"]), "--model", "/nonexistent.ddbundle"], tmp_path
    )
    assert proc.returncode == 4
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert (
        lines == [line for line in lines if line.startswith("dysmorph-desk: error:")]
        and len(lines) == 1
    )


def test_subprocess_usage_error(tmp_path):
    proc = _subprocess(["screen", "x.jpg", "--sex", "other"], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_fhir_and_dicom_carry_the_same_report(capsys, test_bundle, portraits, tmp_path):
    """One render: the PDF written, the FHIR presentedForm and the DICOM document are the same
    bytes; an existing output is refused before any work and nothing is written."""
    import base64

    pydicom = pytest.importorskip("pydicom")
    pdf, fhir, dcm = tmp_path / "r.pdf", tmp_path / "r.fhir.json", tmp_path / "r.dcm"
    argv = ["--cam", "none", "--patient-id", "P-77", "--report", pdf, "--fhir", fhir]
    code, _, err = screen(capsys, test_bundle, portraits["grace_hopper"], *argv, "--dicom", dcm)
    assert code == 0, err
    bundle = json.loads(fhir.read_text("utf-8"))
    report = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    form = base64.b64decode(report["presentedForm"][0]["data"])
    ds = pydicom.dcmread(dcm)
    document = bytes(ds.EncapsulatedDocument)[: int(ds.EncapsulatedDocumentLength)]
    assert form == document == pdf.read_bytes()
    assert ds.PatientID == "P-77"
    for p in (pdf, fhir, dcm):
        p.unlink()
    fhir.write_text("{}", encoding="utf-8")
    code, _, err = screen(capsys, test_bundle, portraits["grace_hopper"], *argv, "--dicom", dcm)
    assert code == 2 and "exists" in err
    assert not pdf.exists() and not dcm.exists()


def test_store_files_the_visit_and_its_exports_share_its_study(
    capsys, test_bundle, portraits, tmp_path
):
    pydicom = pytest.importorskip("pydicom")
    from dysmorph_desk.records.store import CaseStore

    store, dcm = tmp_path / "store", tmp_path / "v.dcm"
    photos = [portraits["grace_hopper"], portraits["astronaut"]]
    argv = ["--visit", "--patient-id", "P-9", "--cam", "none", "--store-path", store]
    code, _, err = screen(capsys, test_bundle, *photos, *argv, "--dicom", dcm)
    assert code == 0, err
    with CaseStore(store) as s:
        (summary,) = s.find_cases("P-9")
        record = s.get_case(summary.uid)
    (visit,) = record.visits
    assert len(visit.photos) == 2 and visit.visit_results
    assert pydicom.dcmread(dcm).StudyInstanceUID == visit.study_uid
    assert [e.kind for e in visit.exports] == ["dicom"]


def test_one_file_named_for_two_outputs_is_refused_before_any_work(capsys, tmp_path, portraits):
    same = tmp_path / "same.out"
    code, _, err = run(
        capsys, "screen", portraits["grace_hopper"], "--json", same, "--report", same
    )
    assert code == 2 and "named for two outputs" in err
    assert not same.exists()


def test_the_photo_goes_into_fhir_and_dicom_only_when_asked(
    capsys, test_bundle, portraits, tmp_path
):
    pydicom = pytest.importorskip("pydicom")
    fhir, dcm = tmp_path / "v.fhir.json", tmp_path / "v.dcm"
    photos = [portraits["grace_hopper"], portraits["astronaut"]]
    argv = ["--visit", "--cam", "none", "--fhir", fhir, "--dicom", dcm]
    code, _, err = screen(capsys, test_bundle, *photos, *argv)
    assert code == 0, err
    kinds = [e["resource"]["resourceType"] for e in json.loads(fhir.read_text("utf-8"))["entry"]]
    assert "Media" not in kinds and sorted(p.name for p in tmp_path.iterdir()) == [
        "v.dcm",
        "v.fhir.json",
    ]
    code, _, err = screen(capsys, test_bundle, *photos, *argv, "--include-photo", "--force")
    assert code == 0, err
    kinds = [e["resource"]["resourceType"] for e in json.loads(fhir.read_text("utf-8"))["entry"]]
    assert kinds.count("Media") == 2
    study = pydicom.dcmread(dcm).StudyInstanceUID
    for k in (1, 2):
        image = pydicom.dcmread(tmp_path / f"v-photo{k}.dcm")
        assert image.StudyInstanceUID == study and image.Modality == "XC"
        assert image.pixel_array.ndim == 3
