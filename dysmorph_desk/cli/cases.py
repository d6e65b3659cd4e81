"""``dysmorph-desk cases``: list, show, delete and export the cases of the local case store.

``cases list`` finds cases by (part of) a pseudonymous patient ID and visit dates; ``cases show``
prints one case (its UID, a unique 6+ character prefix of it, or ``--patient-id``); ``cases
delete`` erases one everywhere (asks twice on a terminal; ``--yes`` where nobody can answer);
``cases export`` writes a case as JSON or CSV (the whole case), or one visit as FHIR or DICOM
(the latest, or ``--visit``; both carry the visit's PDF report as exported). Every command takes
``--store-path`` (default: the ``records.store_path`` setting, else the per-user data folder). See
docs/records.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from dysmorph_desk.errors import UsageError

if TYPE_CHECKING:
    from dysmorph_desk.records.models import CaseRecord, VisitRecord
    from dysmorph_desk.records.store import CaseStore

FORMATS = ("json", "csv", "fhir", "dicom")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError("a date is YYYY-MM-DD") from None


def add_cases_parser(sub) -> None:
    """Register ``cases`` and its subcommands on the top-level subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store-path",
        type=Path,
        metavar="DIR",
        help="the case store's folder (default: the store_path setting, else the data folder)",
    )
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--operator", help="who does this, for the audit log (default: settings)")

    c = sub.add_parser("cases", help="list, show, delete and export the cases in the case store")
    cs = c.add_subparsers(dest="cases_command", required=True, metavar="SUBCOMMAND")

    ls = cs.add_parser("list", parents=[common], help="list cases, newest first")
    ls.add_argument("--query", default="", help="part of a patient ID")
    ls.add_argument("--from", dest="date_from", type=_date, metavar="DATE", help="visits from")
    ls.add_argument("--to", dest="date_to", type=_date, metavar="DATE", help="visits up to")
    ls.add_argument("--json", action="store_true", help="list them as JSON")
    ls.set_defaults(func=cmd_cases_list)

    sh = cs.add_parser("show", parents=[common, who], help="show one case and its results")
    sh.add_argument("uid", nargs="?", metavar="UID", help="case UID or a unique prefix (6+)")
    sh.add_argument("--patient-id", help="the case of this patient ID (exact)")
    sh.add_argument("--json", action="store_true", help="print the case as JSON")
    sh.set_defaults(func=cmd_cases_show)

    de = cs.add_parser("delete", parents=[common, who], help="delete a case everywhere")
    de.add_argument("uid", metavar="UID", help="case UID or a unique prefix (6+)")
    de.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    de.set_defaults(func=cmd_cases_delete)

    ex = cs.add_parser(
        "export", parents=[common, who], help="write a case as json/csv, a visit as fhir/dicom"
    )
    ex.add_argument("uid", metavar="UID", help="case UID or a unique prefix (6+)")
    ex.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        dest="fmt",
        help="json or csv: the whole case; fhir or dicom: one visit",
    )
    ex.add_argument("--out", required=True, type=Path, metavar="PATH", help="the file to write")
    ex.add_argument(
        "--visit",
        metavar="VISIT_UID",
        help="with fhir/dicom: the visit (its UID or a unique prefix; default the latest)",
    )
    ex.add_argument("--force", action="store_true", help="overwrite PATH")
    ex.set_defaults(func=cmd_cases_export)


def _store_path(args: argparse.Namespace) -> Path:
    if args.store_path is not None:
        return Path(args.store_path)
    from dysmorph_desk.settings import Settings
    from dysmorph_desk.utils import paths

    configured = Settings.load().records.store_path
    return Path(configured).expanduser() if configured else paths.store_dir()


def _open(args: argparse.Namespace) -> CaseStore | None:
    """The store, or None when none was ever created there (reading must not create one)."""
    from dysmorph_desk.records.store import DB_NAME, CaseStore

    path = _store_path(args)
    if not (path / DB_NAME).exists():
        return None
    store = CaseStore(path)
    if store.journal_note:
        _err(f"note: {store.journal_note}")
    return store


def _opened(args: argparse.Namespace) -> CaseStore:
    store = _open(args)
    if store is None:
        raise UsageError("the case store is empty: no case has been filed yet")
    return store


def _operator(args: argparse.Namespace) -> str:
    from dysmorph_desk.utils.inputs import OPERATOR_MAX, clean_text

    if args.operator is not None:
        return clean_text(args.operator, OPERATOR_MAX, "--operator")
    from dysmorph_desk.settings import Settings

    return Settings.load().app.operator


def _safe(text: object, limit: int = 200) -> str:
    from dysmorph_desk.utils.inputs import terminal_safe

    return terminal_safe(str(text), limit)


def cmd_cases_list(args: argparse.Namespace) -> int:
    store = _open(args)
    if store is None:
        rows = []
    else:
        with store:
            rows = store.find_cases(args.query, args.date_from, args.date_to)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return 0
    for r in rows:
        print(
            f"{r.uid}\t{_safe(r.patient_id) or '-'}\t{r.sex}\t{r.visit_count} visit(s)\t"
            f"{r.photo_count} photo(s)\tlast {r.last_visit or '-'}"
        )
    _err(f"{len(rows)} case(s)")
    return 0


def _pick(store: CaseStore, args: argparse.Namespace) -> str:
    if args.uid and args.patient_id is not None:
        raise UsageError("give a case UID or --patient-id, not both")
    if args.patient_id is None:
        if not args.uid:
            raise UsageError("give a case UID (or a unique prefix) or --patient-id")
        return store.resolve_uid(args.uid)
    matches = store.cases_for_patient(args.patient_id)
    if not matches:
        raise UsageError("no case has this patient ID")
    if len(matches) > 1:
        uids = ", ".join(m.uid for m in matches[:5])
        raise UsageError(f"{len(matches)} cases have this patient ID; give one UID: {uids}")
    return matches[0].uid


def _describe(record: CaseRecord) -> str:
    lines = [
        f"case {record.uid}: patient {_safe(record.patient_id) or '-'}, {record.sex}, "
        f"created {record.created}"
    ]
    for v in record.visits:
        age = f"{v.age_months:g} months" if v.age_months is not None else "age unknown"
        lines.append(f"visit {v.date} ({v.uid}): {age}, operator {_safe(v.operator) or '-'}")
        if v.notes:
            lines.append(f"  notes: {_safe(v.notes, 400)}")
        if v.hpo_terms:
            from dysmorph_desk.records.visit_phenotype import terms_text

            lines.append(f"  HPO terms: {_safe(terms_text(v.hpo_terms), 4000)}")
        for p in v.photos:
            kept = "kept" if p.file else "hash only"
            lines.append(f"  photo {p.sha256[:12]} ({kept})")
            for res in p.results:
                for m in res.result.get("results") or []:
                    head = f"    {_safe(m.get('model', res.bundle_name))} [{res.created}]"
                    if not m.get("assessable"):
                        reason = _safe(m.get("cannot_assess_reason") or "-")
                        lines.append(f"{head}: cannot assess — {reason}")
                        continue
                    verdict = "FLAGGED for clinical review" if m.get("flagged") else "not flagged"
                    lines.append(
                        f"{head}: syndromic {m.get('syndromic_probability', 0):.2f} vs "
                        f"threshold {m.get('threshold', 0):.2f} -> {verdict}"
                    )
        lines += _differential_lines(v)
        for e in v.exports:
            lines.append(f"  exported {e.kind} {e.created}: {_safe(e.path)}")
    lines.append("Screening aid, not a diagnosis.")
    return "\n".join(lines)


def _differential_lines(visit: VisitRecord, shown: int = 5) -> list[str]:
    """The visit's latest filed differential: its top candidates, as filed (not ranked again)."""
    if not visit.differentials:
        return []
    latest = visit.differentials[-1]
    rows = latest.result.get("differential") or []
    context = latest.result.get("differential_context") or {}
    n = len(latest.result.get("photos") or [])
    head = f"  differential [{latest.created}], ranked for {n} photo(s)"
    if len(visit.differentials) > 1:
        head += f" (the latest of {len(visit.differentials)})"
    lines = [head + ": candidates to consider, not a diagnosis"]
    if context.get("no_close_match"):
        lines.append("    no close match: the nearest gallery entry is beyond the threshold")
    for row in rows[:shown]:
        name = f"{_safe(row.get('name', ''), 80)} ({_safe(row.get('disorder_id', ''), 40)})"
        near = ", ".join(f"#{e.get('entry')}" for e in (row.get("nearest_entries") or [])[:3])
        lines.append(
            f"    {row.get('rank', '?')}. {name}: gestalt {_num(row.get('gestalt_distance'), 3)}"
            + (f" nearest {near}" if near else "")
            + f", phenotype {_num(row.get('phenotype_score'), 2)}, "
            f"combined {_num(row.get('combined_score'), 3)}"
        )
    return lines


def _num(value: object, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "-"


def cmd_cases_show(args: argparse.Namespace) -> int:
    with _opened(args) as store:
        uid = _pick(store, args)
        record = store.get_case(uid)
        store.record_opened(uid, _operator(args))
    if args.json:
        print(json.dumps(record.to_json(), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(_describe(record))
    return 0


def _confirm(record: CaseRecord) -> bool:
    """Ask twice: a yes, then the UID's first six characters typed back."""
    _err(
        f"Delete case {record.uid} (patient {_safe(record.patient_id) or '-'}): "
        f"{len(record.visits)} visit(s), {len(record.photos)} photo(s), their results and files? "
        "This cannot be undone. [y/N] "
    )
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        return False
    _err("Type the first 6 characters of the case UID to confirm: ")
    return sys.stdin.readline().strip().lower() == record.uid[:6]


def cmd_cases_delete(args: argparse.Namespace) -> int:
    with _opened(args) as store:
        uid = store.resolve_uid(args.uid)
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("add --yes to delete without asking")
            if not _confirm(store.get_case(uid)):
                raise UsageError("not deleted")
        report = store.delete_case(uid, _operator(args))
    print(
        f"deleted case {uid}: {report.visits} visit(s), {report.photos} photo(s); "
        f"{report.files_removed} photo file(s) and {report.cache_files_removed} cached face(s) "
        "removed"
    )
    for problem in report.problems:
        _err(f"warning: {problem}")
    return 2 if report.problems else 0


def _given_visit(record: CaseRecord, ref: str) -> VisitRecord:
    """The case's visit whose UID is ``ref`` or starts with it."""
    prefix = ref.strip().lower()
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        raise UsageError("--visit takes a visit UID or a prefix of it (hex; see cases show)")
    matches = [v for v in record.visits if v.uid.startswith(prefix)]
    if not matches:
        raise UsageError(f"case {record.uid[:8]} has no visit {prefix[:40]} (see cases show)")
    if len(matches) > 1:
        raise UsageError(f"--visit {prefix} matches {len(matches)} visits; give more of its UID")
    return matches[0]


def _chosen_visit(record: CaseRecord, args: argparse.Namespace) -> VisitRecord:
    """The visit of a FHIR export (and of DICOM with ``--visit``): ``--visit``, else the latest;
    said on stderr."""
    if not record.visits:
        raise UsageError("this case has no visit to export")
    if args.visit is not None:
        visit, which = _given_visit(record, args.visit), "given by --visit"
    else:
        n = len(record.visits)
        visit = record.visits[-1]
        which = "the only visit" if n == 1 else f"the latest of {n} visits; --visit for another"
    _err(f"exporting visit {visit.date} ({visit.uid}): {which}")
    return visit


def _no_pdf(visit: VisitRecord) -> UsageError:
    return UsageError(
        f"no PDF report of visit {visit.date} ({visit.uid[:8]}) is on disk unchanged; "
        "export a PDF report of it first (the app, or screen --report with --store)"
    )


def _fhir(record: CaseRecord, args: argparse.Namespace) -> tuple[bytes, VisitRecord]:
    """One visit (``--visit``, else the latest) as a FHIR R4B Bundle.

    Built from the visit's stored photo JSON (the same builder as ``screen --fhir``), with the
    visit's latest PDF report as exported, unchanged since (the DiagnosticReport's
    ``presentedForm``), its fused result and its study UID.
    """
    from dysmorph_desk.records.export import visit_pdf
    from dysmorph_desk.records.fhir import fhir_json, visit_fhir_bundle

    visit = _chosen_visit(record, args)
    pdf = visit_pdf(visit)
    if pdf is None:
        raise _no_pdf(visit)
    try:
        bundle = visit_fhir_bundle(visit, pdf)
    except ValueError as exc:
        raise UsageError(f"visit {visit.uid[:8]} cannot be exported as FHIR: {exc}") from None
    return fhir_json(bundle), visit


def _dicom(record: CaseRecord, args: argparse.Namespace) -> tuple[bytes, VisitRecord]:
    """A visit's PDF report (as exported, unchanged since) as a DICOM Encapsulated PDF.

    The store keeps results as JSON, not the report itself: the PDF is the one the app exported
    for the visit (``exports``), checked against the hash recorded then. The visit is
    ``--visit``, else the latest one with such a PDF.
    """
    try:
        from dysmorph_desk.records.dicom import encapsulated_pdf
    except ModuleNotFoundError as exc:  # records/dicom.py (pydicom) not in this install
        raise UsageError("DICOM export is not available in this installation") from exc
    from dysmorph_desk.records.export import visit_pdf
    from dysmorph_desk.screening.results import CaseInfo

    if args.visit is not None:
        candidates = [_chosen_visit(record, args)]
    else:
        candidates = list(reversed(record.visits))
    for visit in candidates:
        pdf = visit_pdf(visit)
        if pdf is None:
            continue
        if args.visit is None:
            _err(f"exporting visit {visit.date} ({visit.uid}): the latest with a PDF report")
        case = CaseInfo(record.patient_id, visit.age_months, record.sex, visit.operator)
        return encapsulated_pdf(pdf, case, study_uid=visit.study_uid), visit
    if args.visit is not None:
        raise _no_pdf(candidates[0])
    raise UsageError("no PDF report of this case is on disk unchanged; export one from the app")


def _render(record: CaseRecord, args: argparse.Namespace) -> tuple[bytes, VisitRecord | None]:
    """The export's bytes, and the visit it is of (None: the whole case)."""
    from dysmorph_desk.records.export import case_csv, case_json

    if args.fmt == "json":
        return case_json(record), None
    if args.fmt == "csv":
        return case_csv(record), None
    if args.fmt == "dicom":
        return _dicom(record, args)
    return _fhir(record, args)


def cmd_cases_export(args: argparse.Namespace) -> int:
    from dysmorph_desk.utils.atomic import check_writable, write_bytes_atomic

    if args.visit is not None and args.fmt not in ("fhir", "dicom"):
        raise UsageError(f"--visit is for fhir and dicom; {args.fmt} exports the whole case")
    check_writable(args.out, args.force)
    operator = _operator(args)
    with _opened(args) as store:
        uid = store.resolve_uid(args.uid)
        record = store.get_case(uid)
        data, visit = _render(record, args)
        write_bytes_atomic(args.out, data, force=args.force, sync_dir=True)
        sha = hashlib.sha256(data).hexdigest()
        path = args.out.resolve()
        try:
            if visit is None:
                store.record_case_export(uid, args.fmt, path, sha, operator)
            else:  # a file of one visit is recorded on that visit
                store.add_export(visit.uid, args.fmt, path, sha, operator)
        except BaseException:
            args.out.unlink(missing_ok=True)  # not recorded: not written
            raise
    print(args.out)
    return 0
