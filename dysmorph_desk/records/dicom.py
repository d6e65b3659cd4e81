"""A screening as DICOM Part-10 files, for a PACS: the PDF report and, on request, the photo.

* :func:`encapsulated_pdf`: the **Encapsulated PDF** IOD (SOP Class 1.2.840.10008.5.1.4.1.1.104.1),
  Modality ``DOC``: the report exactly as written, padded to an even length as DICOM requires,
  with its true length in ``EncapsulatedDocumentLength``.
* :func:`vl_photographic_image`: the **VL Photographic Image** IOD
  (1.2.840.10008.5.1.4.1.1.77.1.4), Modality ``XC``: the photo as screened, uncompressed 8-bit RGB
  (explicit VR little endian, ``PlanarConfiguration`` 0), with an sRGB ICC profile (the pixels
  are sRGB: ``faces.image`` converts every photo to it).

Both are one study: the caller gives the Study Instance UID (one per visit, kept with the
screening), each file gets its own series. Privacy: the patient module holds the pseudonymous
patient ID and the sex only; the name and the birth date are empty (Type 2: present, unknown), the
photo's file name is never written. Both files say ``RecognizableVisualFeatures`` ``YES`` (the photo
is a face, and the PDF shows it) and ``BurnedInAnnotation`` ``YES`` for the PDF (its pages carry
the patient ID), so a de-identification pipeline treats them as identifying.

Sex: ``female``/``male`` become ``F``/``M``; ``unknown`` is left empty (Type 2: unknown), not
``O``, which DICOM defines as "other" — a statement the screening never made.

UIDs are ``2.25.<the decimal of a random UUID>`` (ISO/IEC 9834-8 UUID-derived UIDs need no
registered root). Text is written as UTF-8 (``SpecificCharacterSet`` ``ISO_IR 192``): patient IDs
may be in any script. Times are UTC (``TimezoneOffsetFromUTC`` ``+0000``).

Core module: no Qt, no torch.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian

from dysmorph_desk import __version__
from dysmorph_desk.errors import UsageError
from dysmorph_desk.screening.results import CaseInfo
from dysmorph_desk.utils.atomic import write_bytes_atomic

__all__ = [
    "ENCAPSULATED_PDF_SOP_CLASS",
    "IMPLEMENTATION_CLASS_UID",
    "VL_PHOTOGRAPHIC_SOP_CLASS",
    "NotDicomText",
    "encapsulated_pdf",
    "new_uid",
    "vl_photographic_image",
    "write_dicom",
]

ENCAPSULATED_PDF_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"
VL_PHOTOGRAPHIC_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.4"
# Identifies the software that wrote the file (File Meta): fixed, derived from the project's name.
IMPLEMENTATION_CLASS_UID = UID(f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'urn:dysmorph-desk').int}")
IMPLEMENTATION_VERSION_NAME = f"DDESK_{__version__}"[:16]  # SH: 16 characters at most
MANUFACTURER = "DysmorphDesk"
_SEX = {"female": "F", "male": "M"}


class NotDicomText(UsageError, ValueError):
    """Text DICOM cannot hold as given (a backslash separates values there): exit 2 in the CLI."""


def new_uid() -> str:
    """A new globally unique DICOM UID: ``2.25.`` and a random UUID as a decimal (at most 44 chars)."""
    return f"2.25.{uuid.uuid4().int}"


def _check_uid(uid: str, what: str) -> str:
    parts = uid.split(".")
    ok = (
        0 < len(uid) <= 64
        and all(p.isdigit() and p.isascii() for p in parts)
        and all(p == "0" or not p.startswith("0") for p in parts)
    )
    if not ok:
        raise ValueError(f"{what} is not a valid DICOM UID: {uid!r}")
    return uid


def _age(months: float | None) -> str | None:
    """DICOM Age String (nnnD/W/M/Y): months up to 999, years beyond."""
    if months is None:
        return None
    m = int(months)
    return f"{m:03d}M" if m <= 999 else f"{m // 12:03d}Y"


def _base(
    case: CaseInfo,
    *,
    sop_class: str,
    study_uid: str,
    series_uid: str | None,
    modality: str,
    series_number: int,
    series_description: str,
    created: datetime | None,
    institution: str,
) -> tuple[Dataset, datetime]:
    """The modules both IODs share: SOP Common, Patient, General Study, Series, Equipment."""
    if "\\" in case.patient_id:
        # LO values cannot hold a backslash (DICOM's value separator); changing the ID silently
        # would break the match with the other outputs
        raise NotDicomText("a patient ID with a backslash cannot be written to DICOM")
    if "\\" in institution:
        raise NotDicomText("an institution name with a backslash cannot be written to DICOM")
    when = (created or datetime.now(UTC)).astimezone(UTC)
    date, time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")

    ds = Dataset()
    # SOP Common
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = time
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = new_uid()
    ds.TimezoneOffsetFromUTC = "+0000"
    # Patient: pseudonymous ID and sex only (name and birth date Type 2: present, empty)
    ds.PatientName = ""
    ds.PatientID = case.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = _SEX.get(case.sex, "")
    # General Study
    ds.StudyInstanceUID = _check_uid(study_uid, "study_uid")
    ds.StudyDate = date
    ds.StudyTime = time
    ds.ReferringPhysicianName = ""
    # Type 2, but a DICOMDIR needs a value (dciodvfy warns without one): stable per study
    ds.StudyID = "DD" + "".join(c for c in study_uid if c.isdigit())[-14:]
    ds.AccessionNumber = ""
    ds.StudyDescription = "Facial dysmorphology screening (screening aid)"
    # Patient Study
    age = _age(case.age_months)
    if age is not None:
        ds.PatientAge = age
    # Series
    ds.Modality = modality
    ds.SeriesInstanceUID = _check_uid(series_uid, "series_uid") if series_uid else new_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDate = date
    ds.SeriesTime = time
    ds.SeriesDescription = series_description
    # General Equipment
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MANUFACTURER
    ds.SoftwareVersions = __version__
    if institution:
        ds.InstitutionName = institution
    return ds, when


def _part10(ds: Dataset) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(ds.SOPClassUID)
    meta.MediaStorageSOPInstanceUID = UID(ds.SOPInstanceUID)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def encapsulated_pdf(
    pdf: bytes,
    case: CaseInfo,
    *,
    study_uid: str,
    series_uid: str | None = None,
    created: datetime | None = None,
    institution: str = "",
) -> bytes:
    """The PDF report as a DICOM Encapsulated PDF (Part-10 file bytes).

    Args:
        pdf: the report's bytes, stored unchanged (padded with one NUL to an even length; the
            true length is ``EncapsulatedDocumentLength``).
        case: the case: its pseudonymous patient ID, sex and age.
        study_uid: the Study Instance UID, the same for every file of the visit.
        series_uid: the Series Instance UID; a new one by default.
        created: when the file is made (study, series, content dates); default now, UTC.
        institution: the clinic's name (``InstitutionName``), when set.

    Raises:
        ValueError: ``pdf`` is not a PDF or a UID is malformed.
        NotDicomText: the patient ID or the institution holds a backslash (a ``UsageError`` and
            a ``ValueError``).

    Example:
        >>> study = new_uid()  # doctest: +SKIP
        >>> write_dicom("report.dcm", encapsulated_pdf(pdf, result.case, study_uid=study))  # doctest: +SKIP
    """
    if not pdf.startswith(b"%PDF-"):
        raise ValueError("the encapsulated document must be a PDF")
    ds, when = _base(
        case,
        sop_class=ENCAPSULATED_PDF_SOP_CLASS,
        study_uid=study_uid,
        series_uid=series_uid,
        modality="DOC",
        series_number=1,
        series_description="Screening report (PDF)",
        created=created,
        institution=institution,
    )
    # SC Equipment: made on a workstation
    ds.ConversionType = "WSD"
    # Encapsulated Document
    ds.InstanceNumber = 1
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    ds.AcquisitionDateTime = when.strftime("%Y%m%d%H%M%S") + "+0000"
    ds.BurnedInAnnotation = "YES"  # the pages carry the patient ID
    ds.RecognizableVisualFeatures = "YES"  # the pages show the face
    ds.DocumentTitle = "DysmorphDesk screening report (screening aid, not a diagnosis)"
    ds.ConceptNameCodeSequence = Sequence()
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + b"\x00" * (len(pdf) % 2)
    ds.EncapsulatedDocumentLength = len(pdf)
    return _part10(ds)


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def vl_photographic_image(
    photo_rgb: np.ndarray,
    case: CaseInfo,
    *,
    study_uid: str,
    series_uid: str | None = None,
    created: datetime | None = None,
    institution: str = "",
    lossy_source: bool = True,
) -> bytes:
    """The photo as a DICOM VL Photographic Image (Part-10 file bytes, uncompressed RGB).

    Args:
        photo_rgb: the photo as screened, ``(H, W, 3)`` uint8 sRGB (``ScreeningResult.photo``).
        case: the case: its pseudonymous patient ID, sex and age.
        study_uid: the Study Instance UID, the same as the report's.
        series_uid: the Series Instance UID; a new one by default.
        created: when the file is made; default now, UTC.
        institution: the clinic's name, when set.
        lossy_source: the photo came from a lossy file (JPEG, HEIC: what cameras and phones give);
            recorded as ``LossyImageCompression`` ``01``, since DICOM requires it to be said once
            an image has been through lossy compression, even when it is stored uncompressed now.

    Raises:
        ValueError: the array is not ``(H, W, 3)`` uint8 or a UID is malformed.
        NotDicomText: the patient ID or the institution holds a backslash.
    """
    arr = np.asarray(photo_rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise ValueError("the photo must be an (H, W, 3) uint8 RGB array")
    if arr.shape[0] > 0xFFFF or arr.shape[1] > 0xFFFF:
        raise ValueError("the photo is too large for DICOM (at most 65535 pixels a side)")
    ds, _ = _base(
        case,
        sop_class=VL_PHOTOGRAPHIC_SOP_CLASS,
        study_uid=study_uid,
        series_uid=series_uid,
        modality="XC",
        series_number=2,
        series_description="Screened photo",
        created=created,
        institution=institution,
    )
    # General Image / VL Image
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.ImageLaterality = "U"  # the face is unpaired (with it, the series' Laterality is not needed)
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    # DERIVED: decoded, turned upright (EXIF), converted to 8-bit sRGB, possibly downscaled
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.DerivationDescription = "Decoded, orientation-corrected, converted to 8-bit sRGB"
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "YES"
    if lossy_source:
        ds.LossyImageCompression = "01"
    else:
        ds.LossyImageCompression = "00"
    face = Dataset()
    face.CodeValue = "89545001"
    face.CodingSchemeDesignator = "SCT"
    face.CodeMeaning = "Face"
    ds.AnatomicRegionSequence = Sequence([face])
    # Acquisition Context: nothing recorded (Type 2: present, empty)
    ds.AcquisitionContextSequence = Sequence()
    # Image Pixel
    rows, cols = int(arr.shape[0]), int(arr.shape[1])
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    # ICC Profile: the pixels are sRGB
    ds.ICCProfile = _srgb_profile()
    ds.ColorSpace = "SRGB"
    pixels = np.ascontiguousarray(arr).tobytes()
    ds.PixelData = pixels + b"\x00" * (len(pixels) % 2)
    ds["PixelData"].VR = "OB"
    return _part10(ds)


def write_dicom(path: str | Path, data: bytes, force: bool = False) -> Path:
    """Write a Part-10 file atomically.

    Raises:
        UsageError: ``path`` exists and ``force`` is not given, or is a folder.
        OutputError: the file could not be written.
    """
    if data[128:132] != b"DICM":
        raise ValueError("not a DICOM Part-10 file")
    return write_bytes_atomic(path, data, force=force, sync_dir=True)
