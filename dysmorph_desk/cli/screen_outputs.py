"""What a ``screen`` run writes: the output plan, checked before any model loads, and each output
set rendered in memory (JSON schema 2, PDF, FHIR, DICOM, Phenopacket).

Split from ``cli/screen.py`` (which runs the photos through the models) so each module stays
small. :func:`plan_outputs` names every file the run will write and refuses (exit 2) one that
exists or is a folder; :func:`render` and :func:`run_outputs` build the bytes, which the caller
writes all-or-nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dysmorph_desk.errors import OutputError, UsageError
from dysmorph_desk.utils.inputs import terminal_safe


def _one_line(text: str, limit: int = 400) -> str:
    """Messages may quote names from files: escapes instead of control codes, bounded length."""
    return terminal_safe(text, limit)


def _safe_stem(stem: str) -> str:
    """An output name from a photo's name: letters, digits, ``._-`` only; never hidden or empty."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stem)
    return safe.lstrip(".")[:100] or "photo"


@dataclass
class Plan:
    """Where a run writes: ``per_photo`` (json, pdf) pairs with ``--out-dir`` and no ``--visit``;
    the ``run_*`` files once for the run (its one photo, or the visit); ``summary_csv`` with
    ``--out-dir``."""

    per_photo: list[tuple[Path | None, Path | None]] = field(default_factory=list)
    run_json: Path | None = None
    run_pdf: Path | None = None
    run_fhir: Path | None = None
    run_dicom: Path | None = None
    dicom_photos: list[Path] = field(default_factory=list)  # one per photo given, with the photo
    summary_csv: Path | None = None
    run_phenopacket: Path | None = None  # --phenopacket: the case's terms and candidate disorders

    def all_paths(self) -> list[tuple[Path, int | None]]:
        """Every output with the 1-based photo it belongs to (None: the run's)."""
        out = [(p, i) for i, pair in enumerate(self.per_photo, 1) for p in pair if p is not None]
        run = [self.run_json, self.run_pdf, self.run_fhir, self.run_dicom, self.summary_csv]
        run.append(self.run_phenopacket)
        return out + [(p, None) for p in (*run, *self.dicom_photos) if p is not None]


def plan_outputs(args) -> Plan:
    """Every output of the run; refuses (exit 2) before any work when one exists or is a folder."""
    json_file = Path(args.json_out) if args.json_out and args.json_out != "-" else None
    single = {"--json PATH": json_file, "--report": args.report}
    single |= {"--fhir": args.fhir, "--dicom": args.dicom}
    single["--phenopacket"] = getattr(args, "phenopacket", None)
    named = [k for k, v in single.items() if v is not None]
    plan = Plan()
    if args.out_dir is not None:
        if named:
            raise UsageError(f"--out-dir names the files itself; drop {', '.join(named)}")
        plan.summary_csv = args.out_dir / "summary.csv"
        if args.visit:
            plan.run_json = args.out_dir / "visit.json"
            plan.run_pdf = None if args.no_report else args.out_dir / "visit.pdf"
        else:
            taken: set[str] = {"summary"}  # casefolded: X.jpg and x.jpg collide on Windows/macOS
            for photo in args.photos:
                stem = _safe_stem(photo.stem)
                name, n = stem, 1
                while name.casefold() in taken:  # x.jpg, x.jpg, x-2.jpg -> x, x-2, x-2-2
                    n += 1
                    name = f"{stem}-{n}"
                taken.add(name.casefold())
                pdf = None if args.no_report else args.out_dir / f"{name}.pdf"
                plan.per_photo.append((args.out_dir / f"{name}.json", pdf))
    else:
        if len(args.photos) > 1 and not args.visit and named:
            raise UsageError(
                f"{', '.join(named)} take one photo; with several use --visit (one visit of one "
                "patient) or --out-dir (one file per photo)"
            )
        plan.run_json, plan.run_pdf = json_file, args.report
        plan.run_fhir, plan.run_dicom = args.fhir, args.dicom
        plan.run_phenopacket = single["--phenopacket"]
        if args.dicom is not None and getattr(args, "include_photo", False):
            stem, n = args.dicom.stem, len(args.photos)
            plan.dicom_photos = [
                args.dicom.with_name(f"{stem}-photo{i}.dcm") for i in range(1, n + 1)
            ]
    seen: set[Path] = set()
    for path, _ in plan.all_paths():  # --json X --report X would replace one with the other
        try:
            key = path.resolve() if path.parent.exists() else path.absolute()
        except (OSError, ValueError):  # a name the file system refuses: said by the checks below
            key = path.absolute()
        if key in seen:
            raise UsageError(f"{_one_line(str(path), 200)} is named for two outputs")
        seen.add(key)
    for path, index in plan.all_paths():
        shown = _shown(path, args, index)
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL
            reason = getattr(exc, "strerror", None) or "invalid file name"
            raise OutputError(f"cannot write {shown}: {reason}") from None
        if is_dir:
            raise UsageError(f"{shown} is a folder, not a file name")
        if exists and not args.force:
            raise UsageError(f"{shown} exists; use --force to overwrite")
    return plan


def _shown(path: Path, args, index: int | None) -> str:
    """An output named in a message: a per-photo name comes from a photo's name, so only if asked."""
    if index is None or args.include_photo_name:
        return _one_line(str(path), 200)
    return f"the output for photo {index} in --out-dir"


def render(
    results, visit, refused, settings, want_pdf: bool, differential=None
) -> tuple[dict[str, Any], bytes | None]:
    """The run's JSON document and (when wanted) its PDF, in memory."""
    from dysmorph_desk.screening.document import screening_document

    doc = screening_document(
        results,
        refused=refused,
        visit=visit,
        prevalence=settings.prevalence,
        differential=differential,
    )
    pdf = None
    if want_pdf and results:
        from dysmorph_desk.report.render import report_bytes, visit_report_bytes

        pdf = (
            visit_report_bytes(results, visit, settings, differential=differential)
            if visit is not None and len(results) > 1
            else report_bytes(results[0], settings, differential=differential)
        )
    return doc, pdf


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")


def run_outputs(
    plan: Plan,
    results,
    visit,
    refused,
    case,
    settings,
    study_uid: str | None = None,
    *,
    include_photo: bool = False,
    indices: list[int] | None = None,
    differential=None,
) -> list[tuple[Path, bytes]]:
    """The once-per-run files (the photo's or the visit's JSON, PDF, FHIR, DICOM), in memory."""
    want_pdf = any(p is not None for p in (plan.run_pdf, plan.run_fhir, plan.run_dicom))
    doc, pdf = render(results, visit, refused, settings, want_pdf, differential)
    files: list[tuple[Path, bytes]] = []
    if plan.run_json is not None:
        files.append((plan.run_json, dumps(doc)))
    if plan.run_phenopacket is not None and differential is not None and results:
        from dysmorph_desk.records.phenopacket import phenopacket_bytes

        files.append((plan.run_phenopacket, phenopacket_bytes(results[0].case, differential)))
    if pdf is None:  # nothing screened: no report, FHIR or DICOM to write
        return files
    if plan.run_pdf is not None:
        files.append((plan.run_pdf, pdf))
    if plan.run_fhir is not None or plan.run_dicom is not None:
        from dysmorph_desk.records.dicom import encapsulated_pdf, new_uid
        from dysmorph_desk.records.fhir import fhir_bundle, photo_jpeg

        study_uid = study_uid or new_uid()  # the stored visit's study, or a new one
        if plan.run_fhir is not None:
            visit_json = None if visit is None else visit.to_json()
            photos = [photo_jpeg(r.photo) for r in results] if include_photo else None
            bundle = fhir_bundle(
                results,
                pdf,
                visit=visit_json,
                study_uid=study_uid,
                include_photo=include_photo,
                photos=photos,
            )
            files.append((plan.run_fhir, dumps(bundle)))
        if plan.run_dicom is not None:
            files.append((plan.run_dicom, encapsulated_pdf(pdf, case, study_uid=study_uid)))
            if plan.dicom_photos:
                from dysmorph_desk.records.dicom import vl_photographic_image

                for index, result in zip(indices or [], results, strict=True):
                    image = vl_photographic_image(result.photo, case, study_uid=study_uid)
                    files.append((plan.dicom_photos[index - 1], image))
    return files
