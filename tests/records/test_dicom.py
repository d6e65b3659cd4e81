"""The DICOM export: Encapsulated PDF and VL Photographic Image, checked by dciodvfy and read back.

``dciodvfy`` (dicom3tools; Debian package ``dicom3tools``) checks each file against its IOD and
prints ``Error - ...``/``Warning - ...`` lines. None is accepted, with one documented exception: a
case without a patient ID gets "Missing attribute or value that would be needed to build DICOMDIR -
Patient ID" (Patient ID is Type 2, so empty is valid for the IOD; inventing an ID would be worse).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime

import numpy as np
import pydicom
import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.records.dicom import (
    ENCAPSULATED_PDF_SOP_CLASS,
    VL_PHOTOGRAPHIC_SOP_CLASS,
    encapsulated_pdf,
    new_uid,
    vl_photographic_image,
    write_dicom,
)
from dysmorph_desk.screening.results import CaseInfo

PATIENT_ID = "Ζωή-Жанна-王小明"
PHOTO_LABEL = "IMG_20240501_Smith_Anna.jpg"
CASE = CaseInfo(
    patient_id=PATIENT_ID, age_months=30, sex="female", operator="Dr Ana Operator", notes="Smith"
)
WHEN = datetime(2024, 5, 1, 10, 30, 0, tzinfo=UTC)
DCIODVFY = shutil.which("dciodvfy")
needs_dciodvfy = pytest.mark.skipif(
    DCIODVFY is None, reason="dciodvfy not installed (apt-get install dicom3tools)"
)
ODD_PDF = b"%PDF-1.4\n% odd length on purpose\n%%EOF\n"
assert len(ODD_PDF) % 2 == 1


@pytest.fixture(scope="module")
def screened(test_bundle, portraits):
    """A real screening of a sample portrait and its PDF report (once per module)."""
    from dysmorph_desk.bundles.format import load_bundle
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.report.render import report_bytes
    from dysmorph_desk.screening.pipeline import Screener

    screener = Screener([load_bundle(test_bundle)], FaceDetector())
    result = screener.screen(portraits["grace_hopper"], CASE)
    result.photo_label = PHOTO_LABEL  # asked for: it must still never reach a DICOM file
    return result, report_bytes(result)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    h, w = 121, 97  # odd sizes: the pixel data has an odd length and is padded
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], axis=2).astype(
        np.uint8
    )


def _dciodvfy(path) -> list[str]:
    """dciodvfy's Error/Warning lines for a file (it prints the IOD name otherwise)."""
    assert DCIODVFY is not None
    proc = subprocess.run(
        [DCIODVFY, str(path)], capture_output=True, text=True, errors="replace", timeout=60
    )
    lines = (proc.stdout + proc.stderr).splitlines()
    return [ln for ln in lines if ln.startswith(("Error", "Warning"))]


def _read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def _strings(ds: pydicom.Dataset) -> list[str]:
    """Every text value in the data set (nested sequences included)."""
    out: list[str] = []
    for elem in ds.iterall():
        if elem.VR in {
            "AE",
            "AS",
            "CS",
            "DA",
            "DS",
            "DT",
            "IS",
            "LO",
            "LT",
            "PN",
            "SH",
            "ST",
            "TM",
            "UC",
            "UR",
            "UT",
        }:
            values = elem.value if elem.VM > 1 else [elem.value]
            out += [str(v) for v in values if v not in (None, "")]
    return out


def test_encapsulated_pdf_round_trip(screened, tmp_path):
    result, pdf = screened
    study = new_uid()
    data = encapsulated_pdf(pdf, result.case, study_uid=study, created=WHEN, institution="Clinic Ä")
    path = write_dicom(tmp_path / "report.dcm", data)
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == ENCAPSULATED_PDF_SOP_CLASS
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.Modality == "DOC" and ds.ConversionType == "WSD"
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.EncapsulatedDocumentLength == len(pdf)
    doc = bytes(ds.EncapsulatedDocument)
    assert len(doc) % 2 == 0
    assert doc[: ds.EncapsulatedDocumentLength] == pdf
    assert ds.StudyInstanceUID == study
    assert ds.StudyDate == "20240501" and ds.StudyTime == "103000"
    assert ds.BurnedInAnnotation == "YES" and ds.RecognizableVisualFeatures == "YES"
    assert ds.Manufacturer == "DysmorphDesk" and ds.SoftwareVersions
    assert ds.InstitutionName == "Clinic Ä"


def test_odd_length_pdf_is_padded_and_trimmed_back():
    ds = _read(encapsulated_pdf(ODD_PDF, CASE, study_uid=new_uid(), created=WHEN))
    assert len(ds.EncapsulatedDocument) == len(ODD_PDF) + 1
    assert bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength] == ODD_PDF


def test_photo_round_trip_same_study(screened, tmp_path):
    result, pdf = screened
    study = new_uid()
    report = _read(encapsulated_pdf(pdf, result.case, study_uid=study, created=WHEN))
    path = write_dicom(
        tmp_path / "photo.dcm",
        vl_photographic_image(result.photo, result.case, study_uid=study, created=WHEN),
    )
    img = pydicom.dcmread(path)
    assert img.SOPClassUID == VL_PHOTOGRAPHIC_SOP_CLASS
    assert img.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert img.Modality == "XC"
    assert img.PhotometricInterpretation == "RGB" and img.PlanarConfiguration == 0
    assert (img.Rows, img.Columns, img.SamplesPerPixel) == (*result.photo.shape[:2], 3)
    assert img.StudyInstanceUID == report.StudyInstanceUID == study
    assert img.SeriesInstanceUID != report.SeriesInstanceUID
    assert img.SOPInstanceUID != report.SOPInstanceUID
    np.testing.assert_array_equal(img.pixel_array, result.photo)


def test_odd_sized_photo_pixels_are_exact(photo):
    img = _read(vl_photographic_image(photo, CASE, study_uid=new_uid()))
    assert len(img.PixelData) == photo.size + 1  # padded to an even length
    np.testing.assert_array_equal(img.pixel_array, photo)


def test_only_the_pseudonymous_id_identifies_the_patient(screened):
    result, pdf = screened
    study = new_uid()
    for data in (
        encapsulated_pdf(pdf, result.case, study_uid=study, created=WHEN),
        vl_photographic_image(result.photo, result.case, study_uid=study, created=WHEN),
    ):
        ds = _read(data)
        assert ds.PatientID == PATIENT_ID
        assert str(ds.PatientName) == "" and ds.PatientBirthDate == ""
        assert ds.PatientSex == "F" and ds.PatientAge == "030M"
        assert ds.SpecificCharacterSet == "ISO_IR 192"
        text = " ".join(_strings(ds))
        for secret in (PHOTO_LABEL, "Smith", "Operator", result.photo_sha256):
            assert secret not in text
        assert PHOTO_LABEL.encode() not in data


def test_sex_mapping_and_bad_inputs(photo):
    study = new_uid()
    for sex, code in (("female", "F"), ("male", "M"), ("unknown", "")):
        ds = _read(encapsulated_pdf(ODD_PDF, CaseInfo(sex=sex), study_uid=study))
        assert ds.PatientSex == code
    with pytest.raises(ValueError, match="PDF"):
        encapsulated_pdf(b"not a pdf", CASE, study_uid=study)
    with pytest.raises(ValueError, match="UID"):
        encapsulated_pdf(ODD_PDF, CASE, study_uid="1.2.03")
    with pytest.raises(UsageError, match="backslash"):
        encapsulated_pdf(ODD_PDF, CaseInfo(patient_id="A\\B"), study_uid=study)
    with pytest.raises(ValueError, match="uint8"):
        vl_photographic_image(photo.astype(np.float32), CASE, study_uid=study)
    with pytest.raises(ValueError, match="uint8"):
        vl_photographic_image(photo[..., 0], CASE, study_uid=study)


def test_new_uid_is_valid_and_unique():
    uids = {new_uid() for _ in range(100)}
    assert len(uids) == 100
    for uid in uids:
        assert uid.startswith("2.25.") and len(uid) <= 64
        assert pydicom.uid.UID(uid).is_valid


def test_write_dicom_refuses_overwrite_and_non_dicom(tmp_path):
    data = encapsulated_pdf(ODD_PDF, CASE, study_uid=new_uid())
    out = write_dicom(tmp_path / "r.dcm", data)
    with pytest.raises(UsageError):
        write_dicom(out, data)
    write_dicom(out, data, force=True)
    with pytest.raises(ValueError):
        write_dicom(tmp_path / "x.dcm", b"\x00" * 200)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.dcm"]


@needs_dciodvfy
def test_dciodvfy_finds_no_error_or_warning(screened, photo, tmp_path):
    result, pdf = screened
    study = new_uid()
    files = {
        "report.dcm": encapsulated_pdf(
            pdf, result.case, study_uid=study, created=WHEN, institution="Clinic Ä"
        ),
        "odd.dcm": encapsulated_pdf(ODD_PDF, CASE, study_uid=study),
        "photo.dcm": vl_photographic_image(result.photo, result.case, study_uid=study),
        "odd-photo.dcm": vl_photographic_image(
            photo, CaseInfo(patient_id="P-1", sex="male", age_months=1300), study_uid=study
        ),
    }
    for name, data in files.items():
        path = write_dicom(tmp_path / name, data)
        assert _dciodvfy(path) == [], name


@needs_dciodvfy
def test_dciodvfy_without_patient_id_only_the_dicomdir_warning(photo, tmp_path):
    anon = CaseInfo(sex="unknown")
    study = new_uid()
    for name, data in {
        "report.dcm": encapsulated_pdf(ODD_PDF, anon, study_uid=study),
        "photo.dcm": vl_photographic_image(photo, anon, study_uid=study),
    }.items():
        path = write_dicom(tmp_path / name, data)
        assert _dciodvfy(path) == [
            "Warning - Missing attribute or value that would be needed to build DICOMDIR - Patient ID"
        ], name


@needs_dciodvfy
def test_dciodvfy_check_is_not_vacuous(tmp_path):
    """A file missing a Type 1 attribute is reported: the empty lists above mean something."""
    ds = _read(encapsulated_pdf(ODD_PDF, CASE, study_uid=new_uid()))
    del ds.MIMETypeOfEncapsulatedDocument
    path = tmp_path / "broken.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert any(ln.startswith("Error") for ln in _dciodvfy(path))
