"""``dysmorph-desk screen`` and ``demo``: photos in; JSON (schema 2), PDF, FHIR, DICOM, a summary CSV
and the case store out.

Folders given are expanded into their photos and every photo path is checked (``cli/photos.py``),
and ``--model`` names are checked (``commands.check_model_names``), before any model loads: a
mistyped path or name costs a fraction of a second. A path refused there keeps its place in the
batch; when no photo is left, no model is loaded at all.

Everything a run will write is planned, and refused (exit 2) when it exists, before any model loads.
Each output set (a photo's JSON and PDF; the run's or the visit's JSON, PDF, FHIR and DICOM) is
rendered in memory and written all-or-nothing (``cli/screen_outputs.py``), and a batch never stops
because of one photo.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from dysmorph_desk.cli.commands import check_model_names
from dysmorph_desk.cli.screen_outputs import dumps, plan_outputs, render, run_outputs
from dysmorph_desk.cli.screen_text import (
    photo_label,
    photo_name,
    say_folders,
    summary_text,
    visit_summary_text,
)
from dysmorph_desk.errors import DysmorphError, InputRefused, OutputError, UsageError
from dysmorph_desk.explain.methods import cam_or_none
from dysmorph_desk.utils.inputs import CAM_TARGET_MAX, clean_text, terminal_safe

log = logging.getLogger("dysmorph_desk.cli")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _one_line(text: str, limit: int = 400) -> str:
    """Messages may quote names from files: escapes instead of control codes, bounded length."""
    return terminal_safe(text, limit)


def _load_screener(
    model_names: list[str] | None,
    device_pref: str | None,
    runtime: str = "onnx",
    allow_unvalidated: bool = False,
):
    from dysmorph_desk.bundles.format import load_bundle, select_bundles
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.screening.pipeline import Screener
    from dysmorph_desk.settings import Settings
    from dysmorph_desk.utils.devices import pick_device

    settings = Settings.load()
    device = pick_device(device_pref or settings.screening.device)
    infos = select_bundles(model_names or list(settings.screening.default_models))
    from dysmorph_desk.cli.commands import check_validated

    check_validated(infos, allow_unvalidated, "screen with")  # failed validation: exit 4
    if runtime == "torch":
        import importlib.util

        if importlib.util.find_spec("torch") is None:  # bundle_io imports torch only when it runs
            raise UsageError("--runtime torch needs the [train] extra (PyTorch)")
        from dysmorph_desk.training.bundle_io import load_torch_bundle

        bundles = [load_torch_bundle(i.path, device="cpu", source=i.source) for i in infos]
    else:
        threads = settings.screening.threads or None
        bundles = [
            load_bundle(i.path, device, i.source, threads=threads, allow_failed=allow_unvalidated)
            for i in infos
        ]
    return Screener(bundles, FaceDetector(device=device)), settings


def _options(args, settings):
    from dysmorph_desk.screening.options import ScreenOptions

    if args.face < 1:
        raise UsageError("--face counts from 1 (the largest face)")
    return ScreenOptions(
        face_index=args.face,
        cam_method=cam_or_none(args.cam or settings.heatmap.cam_method),
        cam_target=(
            clean_text(args.cam_target, CAM_TARGET_MAX, "--cam-target")
            if args.cam_target is not None
            else None
        ),
        force_assess=args.force_assess,
        max_pixels=settings.screening.max_pixels,
    )


def _report_options(args, settings):
    return settings.report_options(
        clinic_name=args.clinic,
        prevalence=args.prevalence,
        include_photo_name=args.include_photo_name,
    )


def _case(args):
    from dysmorph_desk.screening.results import CaseInfo
    from dysmorph_desk.utils.inputs import CLINIC_MAX, NOTES_MAX, OPERATOR_MAX, PATIENT_ID_MAX

    if args.clinic is not None:  # checked with the case: before any model loads
        args.clinic = clean_text(args.clinic, CLINIC_MAX, "--clinic")
    # cleaned here first so a message names the option (CaseInfo cleans again: idempotent)
    return CaseInfo(
        patient_id=clean_text(args.patient_id, PATIENT_ID_MAX, "--patient-id"),
        age_months=args.age,
        sex=args.sex,
        operator=clean_text(args.operator, OPERATOR_MAX, "--operator"),
        notes=clean_text(args.notes, NOTES_MAX, "--notes", multiline=True),
    )


def _store_path(args) -> Path | None:
    from dysmorph_desk.settings import Settings

    configured = Settings.load().records.store_path
    return args.store_path or (Path(configured) if configured else None)


def _file_in_store(args, case, screened, visit, differential=None) -> tuple[str, str, str]:
    """File the run's photos (and visit) in the case store (``--store`` / ``--store-path``).

    Returns (case uid, visit uid, the visit's DICOM study UID), so the FHIR and DICOM files of the
    run carry the study the store keeps for this visit.
    """
    from dysmorph_desk.faces.image import sha256_bytes
    from dysmorph_desk.records.store import CaseStore
    from dysmorph_desk.settings import Settings
    from dysmorph_desk.utils.inputs import open_regular

    photos: list[tuple[bytes | None, Any]] = []
    keep = Settings.load().records.keep_photos
    for path, result in screened:
        data = open_regular(path) if keep else None
        if data is not None and sha256_bytes(data) != result.photo_sha256:
            raise InputRefused("a photo changed while it was screened; nothing was filed")
        photos.append((data, result))
    with CaseStore(_store_path(args)) as store:
        terms = [] if differential is None else [(t.id, t.label) for t in differential.hpo_terms]
        case_uid, visit_uid = store.file_screening(
            case,
            photos,
            visit_json=None if visit is None else visit.to_json(),
            hpo_terms=terms,
            differential=differential,  # ranked from exactly these photos' results
        )
        record = store.get_case(case_uid)
    study_uid = next(v.study_uid for v in record.visits if v.uid == visit_uid)
    _err(f"filed in the case store (case {case_uid[:8]})")
    return case_uid, visit_uid, study_uid


def _record_exports(args, visit_uid: str, files: list[tuple[Path, bytes]]) -> None:
    """The store remembers which files were made from the visit (kind, path, SHA-256)."""
    import hashlib

    from dysmorph_desk.records.store import CaseStore

    kinds = {".pdf": "pdf", ".json": "json", ".dcm": "dicom", ".csv": "csv"}
    with CaseStore(_store_path(args)) as store:
        for path, data in files:
            kind = "fhir" if path == args.fhir else kinds.get(path.suffix.lower(), "file")
            digest = hashlib.sha256(data).hexdigest()
            store.add_export(visit_uid, kind, str(path.resolve()), digest)


def _positions(refused, shown: int = 10) -> str:
    """`` (photos 2, 5)``: which photos were refused, by position (the first ``shown``)."""
    if not refused:
        return ""
    spots = [str(r.index) for r in refused[:shown]] + (["..."] if len(refused) > shown else [])
    return f" (photo{'s' if len(refused) > 1 else ''} {', '.join(spots)})"


def cmd_screen(args) -> int:
    """Screen photos; the README ("Screening photos") lists the outputs and exit statuses."""
    from dysmorph_desk.cli.differential import (
        differential_inputs,
        differential_text,
        run_differential,
    )
    from dysmorph_desk.cli.photos import expand_photos, short_hash
    from dysmorph_desk.screening.document import RefusedPhoto
    from dysmorph_desk.settings import Settings
    from dysmorph_desk.utils.atomic import write_together

    settings = Settings.load()
    if args.include_photo is None:
        args.include_photo = settings.records.export_photos
    given: list[Path] = args.photos
    inputs = expand_photos(given, args.recursive)
    args.photos = [p.path for p in inputs]
    plan = plan_outputs(args)
    case = _case(args)
    options = _options(args, settings)
    check_model_names(args.models)
    total = len(inputs)
    names = [photo_name(p.path) if args.include_photo_name else None for p in inputs]
    labels = [photo_label(i, total, n) for i, n in enumerate(names, start=1)]
    wants = differential_inputs(args, len(inputs))  # checked before any model loads
    say_folders(given, inputs, args.include_photo_name, args.recursive)
    for label, item in zip(labels, inputs, strict=True):  # said before any model loads
        if item.refused is not None:
            _err(f"{label}: refused: {_one_line(item.refused)}")
    screener = None
    if any(item.refused is None for item in inputs):
        screener, settings = _load_screener(
            args.models, args.device, args.runtime, args.allow_unvalidated
        )
    report_settings = _report_options(args, settings)
    summary_stream = sys.stderr if args.json_out == "-" else sys.stdout
    failed = 0
    screened: list[tuple[Path, Any]] = []
    refused: list[RefusedPhoto] = []
    csv_items: list[tuple[int, Any, str | None]] = []
    indices: list[int] = []  # the 1-based positions of the screened photos
    for i, (item, name, label) in enumerate(zip(inputs, names, labels, strict=True), start=1):
        photo = item.path
        if item.refused is not None:  # said above, before the models loaded
            reason = _one_line(item.refused)
            refused.append(RefusedPhoto(i, reason, name))
            csv_items.append((i, None, reason))
            continue
        assert screener is not None  # loaded: at least this photo passed the checks
        _err(f"screening {label}")
        try:
            result = screener.screen(photo, case, options)
            result.photo_label = name
            if plan.per_photo:
                json_path, pdf_path = plan.per_photo[i - 1]
                doc, pdf = render([result], None, [], report_settings, pdf_path is not None)
                files = [] if json_path is None else [(json_path, dumps(doc))]
                if pdf_path is not None and pdf is not None:
                    files.append((pdf_path, pdf))
                write_together(files, force=args.force, keep_mode=True)
        except InputRefused as exc:
            reason = _one_line(str(exc))
            refused.append(RefusedPhoto(i, reason, name))
            csv_items.append((i, None, reason))
            digest = short_hash(photo)
            which = f" (sha256 {digest})" if digest else ""
            _err(f"{label}: refused: {reason}{which}")
            continue
        except OutputError as exc:  # the disk, not the photo: the rest would fail the same way
            if args.out_dir is not None and not args.include_photo_name:
                reason = str(exc).split(": ", 1)[-1]
                raise OutputError(f"cannot write the outputs of {label}: {reason}") from None
            raise
        except DysmorphError:
            raise  # a bad option or a bad model: the same for every photo
        except Exception as exc:  # a bug with this photo: logged, and the batch goes on
            failed += 1
            log.error("internal error on %s", label, exc_info=True)
            _err(f"{label}: internal error ({exc.__class__.__name__}); details in the log file")
            csv_items.append((i, None, f"internal error ({exc.__class__.__name__})"))
            continue
        screened.append((photo, result))
        indices.append(i)
        csv_items.append((i, result, None))
        print(summary_text(i, total, result), file=summary_stream, flush=True)

    results = [r for _, r in screened]
    visit = None
    if args.visit and results:
        from dysmorph_desk.screening.visit import fuse_visit

        visit = fuse_visit(results)
        print(visit_summary_text(visit), file=summary_stream, flush=True)
    differential = None
    if wants is not None and results:
        assert screener is not None
        differential = run_differential(wants, results, screener.bundles)
        print(differential_text(differential), file=summary_stream, flush=True)
    filed = None
    if (args.store or args.store_path is not None) and results:
        filed = _file_in_store(args, case, screened, visit, differential)
    study_uid = None if filed is None else filed[2]
    files = run_outputs(
        plan,
        results,
        visit,
        refused,
        case,
        report_settings,
        study_uid,
        include_photo=bool(args.include_photo),
        indices=indices,
        differential=differential,
    )
    if plan.summary_csv is not None:
        from dysmorph_desk.records.summary_csv import summary_csv_bytes

        files.append((plan.summary_csv, summary_csv_bytes(csv_items)))
    if files:
        write_together(files, force=args.force, keep_mode=True)
        if filed is not None:
            _record_exports(args, filed[1], files)
    if args.json_out == "-":
        doc, _ = render(results, visit, refused, report_settings, False, differential)
        print(dumps(doc).decode("utf-8"))
    extra = f", {failed} failed with an internal error" if failed else ""
    print(
        f"screened {len(results)} of {total} photo(s); {len(refused)} refused"
        f"{_positions(refused)}{extra}. "
        "Screening aid, not a diagnosis.",
        file=summary_stream,
    )
    return 5 if failed else 3 if refused else 0


def cmd_demo(args) -> int:
    from dysmorph_desk.report.render import render_report
    from dysmorph_desk.utils import resources
    from dysmorph_desk.utils.atomic import check_writable

    check_writable(args.out, args.force)
    case = _case(args)
    check_model_names(args.models)
    screener, settings = _load_screener(
        args.models or ["all"], args.device, args.runtime, args.allow_unvalidated
    )
    options = _options(args, settings)
    portrait = next(p for p in resources.sample_portraits() if p.name.startswith("grace_hopper"))
    with resources.as_path(portrait) as path:
        result = screener.screen(path, case, options)
    render_report(result, args.out, settings=_report_options(args, settings), force=args.force)
    print(summary_text(1, 1, result))
    print(f"report written to {args.out}")
    return 0
