"""What File ▸ Export writes: the PDF report, the JSON document, a FHIR bundle, a DICOM
encapsulated PDF. Pure functions (no Qt): the window runs :func:`write_export` on a pool thread.

Every export carries the whole visit (all photos screened for the case) with the details on
screen; the PDF is the visit report when the visit has several photos. A differential ranked in
the Differential panel goes in (the PDF's "Differential" table, the JSON's ``differential``) only
when it was ranked from exactly these results (``DifferentialPanel.current_for``). The FHIR and DICOM
writers live in ``records``: they are imported on first use, and a kind whose module cannot be
imported is offered disabled, with the reason as its tooltip.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.screening.results import ScreeningResult
from dysmorph_desk.utils.atomic import write_bytes_atomic, write_together


@dataclass(frozen=True)
class ExportKind:
    key: str  # also the store's export kind
    label: str  # the menu's text
    suffix: str
    name_filter: str
    module: str = ""  # imported lazily; "" = always available


KINDS: dict[str, ExportKind] = {
    k.key: k
    for k in (
        ExportKind("pdf", "&PDF report…", ".pdf", "PDF (*.pdf)"),
        ExportKind("json", "&JSON…", ".json", "JSON (*.json)"),
        ExportKind(
            "fhir",
            "&FHIR bundle…",
            ".fhir.json",
            "FHIR JSON (*.json)",
            "dysmorph_desk.records.fhir",
        ),
        ExportKind(
            "dicom",
            "&DICOM (encapsulated PDF)…",
            ".dcm",
            "DICOM (*.dcm)",
            "dysmorph_desk.records.dicom",
        ),
    )
}


def unavailable(kind: str) -> str | None:
    """Why ``kind`` cannot be exported here (its module does not import), or None."""
    module = KINDS[kind].module
    if not module:
        return None
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"Not available in this installation ({exc})"
    return None


@dataclass
class ExportJob:
    """Everything an export needs, computed on the UI thread before the work starts."""

    kind: str
    results: list[ScreeningResult]  # the visit's photos, with the case details on screen
    options: ReportOptions
    study_uid: str | None = None  # the stored visit's DICOM study, when it is filed
    include_photo: bool = False  # the clinic's ``records.export_photos``: the photo goes in too
    differential: Any = None  # a DifferentialResult ranked from exactly ``results``, or None


def visit_of(results: list[ScreeningResult]) -> Any:
    """The fused ``VisitResult`` of several photos; None for one photo."""
    if len(results) < 2:
        return None
    from dysmorph_desk.screening.visit import fuse_visit

    return fuse_visit(results)


def visit_json(results: list[ScreeningResult]) -> dict[str, Any] | None:
    """The visit's fused result as the store and the JSON keep it; None for one photo, or when
    the photos were screened with different models (then there is no one visit result)."""
    try:
        visit = visit_of(results)
    except ValueError:
        return None
    return None if visit is None else visit.to_json()


def pdf_bytes(
    results: list[ScreeningResult], options: ReportOptions, differential: Any = None
) -> bytes:
    """The report: one photo's, or the visit's (fused result first, then each photo), with the
    "Differential" table when ``differential`` is given."""
    from dysmorph_desk.report.render import report_bytes, visit_report_bytes

    visit = visit_of(results)
    if visit is None:
        return report_bytes(results[0], options, differential=differential)
    return visit_report_bytes(results, visit, options, differential=differential)


def export_bytes(job: ExportJob) -> bytes:
    """The file's contents for ``job.kind``."""
    if job.kind == "json":
        from dysmorph_desk.screening.document import screening_document

        doc = screening_document(  # PPV/NPV at the clinic's prevalence, as the PDF has them
            job.results,
            visit=visit_of(job.results),
            prevalence=job.options.prevalence,
            differential=job.differential,
        )
        return (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()
    pdf = pdf_bytes(job.results, job.options, job.differential)
    if job.kind == "pdf":
        return pdf
    if job.kind == "fhir":
        from dysmorph_desk.records.fhir import fhir_bundle, fhir_json, photo_jpeg

        photos = [photo_jpeg(r.photo) for r in job.results] if job.include_photo else None
        bundle = fhir_bundle(
            job.results,
            pdf,
            visit=visit_json(job.results),
            study_uid=job.study_uid,
            include_photo=job.include_photo,
            photos=photos,
        )
        return fhir_json(bundle)
    if job.kind == "dicom":
        from dysmorph_desk.records.dicom import encapsulated_pdf

        return encapsulated_pdf(
            pdf,
            job.results[0].case,
            study_uid=job.study_uid or _study(job),
            institution=job.options.clinic_name,
        )
    raise ValueError(f"unknown export kind {job.kind!r}")


def _study(job: ExportJob) -> str:
    """One DICOM study for all the files of one export (the report and, if asked, the photos)."""
    from dysmorph_desk.records.dicom import new_uid

    if job.study_uid is None:
        job.study_uid = new_uid()
    return job.study_uid


def photo_paths(job: ExportJob, path: Path) -> list[Path]:
    """The DICOM images written beside the report when the photo goes in: ``D-photoN.dcm``."""
    if job.kind != "dicom" or not job.include_photo:
        return []
    return [path.with_name(f"{path.stem}-photo{i}.dcm") for i in range(1, len(job.results) + 1)]


def write_export(job: ExportJob, path: Path) -> tuple[Path, str]:
    """Write the export atomically (replacing a file the user agreed to replace, keeping its
    permissions); the path and the SHA-256 of the main file. A DICOM export with the photo also
    writes one VL Photographic Image per photo beside it, all files together or none."""
    data = export_bytes(job)
    extra = photo_paths(job, path)
    if not extra:
        write_bytes_atomic(path, data, force=True, keep_mode=True, sync_dir=True)
        return path, hashlib.sha256(data).hexdigest()
    from dysmorph_desk.records.dicom import vl_photographic_image

    files = [(path, data)]
    for image_path, result in zip(extra, job.results, strict=True):
        if result.photo is None:
            raise ValueError("a photo of the visit is no longer in memory; open it again")
        image = vl_photographic_image(
            result.photo,
            result.case,
            study_uid=_study(job),
            institution=job.options.clinic_name,
        )
        files.append((image_path, image))
    write_together(files, force=True, keep_mode=True)
    return path, hashlib.sha256(data).hexdigest()
