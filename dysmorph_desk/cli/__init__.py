"""Command-line interface: a thin layer over the core (screening, bundles, synthetic, training).

Contract: results on stdout, messages and progress on stderr; exit status 0 done, 2 usage (or an
output exists without --force, or cannot be written), 3 a photo/data refused, 4 model/bundle error,
5 internal error (a bug; traceback in the log file), 130 interrupted (Ctrl+C or SIGTERM). The table
is in ``dysmorph_desk.errors`` and the README.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path

from dysmorph_desk import __version__
from dysmorph_desk.cli import commands
from dysmorph_desk.cli.keys import add_keys_parser
from dysmorph_desk.errors import DysmorphError, InputRefused, OutputError, UsageError
from dysmorph_desk.explain.methods import CAM_CHOICES, DEFAULT_CAM_METHOD, cam_or_none
from dysmorph_desk.utils.devices import DEVICE_CHOICES
from dysmorph_desk.utils.inputs import CAM_TARGET_MAX, LABEL_MAX, clean_text

log = logging.getLogger("dysmorph_desk.cli")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _age(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("age must be a number of months") from None
    if not 0 <= v <= 1440:
        raise argparse.ArgumentTypeError("age must be between 0 and 1440 months")
    return v


def _unit(value: str) -> float:
    v = float(value)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1 (exclusive)")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dysmorph-desk",
        description="Offline facial screening aid for genetic syndromes. Screening aid, not a diagnosis.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("screen", help="screen photos with one or more model bundles")
    s.add_argument("photos", nargs="+", type=Path)
    _add_screen_options(s)
    s.add_argument("--report", type=Path, help="PDF report path (one photo)")
    s.add_argument("--json", dest="json_out", help="JSON output path (one photo), or - for stdout")
    s.add_argument("--out-dir", type=Path, help="write <photo stem>.json (and .pdf) per photo here")
    s.add_argument("--no-report", action="store_true", help="with --out-dir: JSON only")
    s.set_defaults(func=cmd_screen)

    d = sub.add_parser("demo", help="screen a bundled sample portrait and write a PDF report")
    d.add_argument("--out", type=Path, default=Path("dysmorph-desk-demo.pdf"))
    _add_screen_options(d, demo=True)
    d.set_defaults(func=cmd_demo)

    m = sub.add_parser("models", help="list installed model bundles")
    m.add_argument("--json", action="store_true")
    m.add_argument("--verify", action="store_true", help="load each bundle and check its hash")
    m.add_argument(
        "--install",
        type=Path,
        metavar="BUNDLE",
        help="verify a .ddbundle and copy it into the per-user models folder",
    )
    m.add_argument(
        "--upgrade",
        type=Path,
        metavar="OLD",
        help="rewrite a format-1 bundle as format 2 (ONNX graphs; needs the [train] extra)",
    )
    m.add_argument(
        "--sign",
        type=Path,
        metavar="BUNDLE",
        help="sign a format-2 bundle with --key (rewritten in place unless --out)",
    )
    m.add_argument("--key", type=Path, metavar="KEY", help="with --sign: the private key (PEM)")
    m.add_argument(
        "--out",
        type=Path,
        metavar="NEW",
        help="with --upgrade or --sign: write here instead of in place",
    )
    m.add_argument(
        "--force",
        action="store_true",
        help="with --install: replace a bundle of the same name; with --upgrade/--sign --out: overwrite",
    )
    m.set_defaults(func=commands.cmd_models)

    c = sub.add_parser("cache", help="manage the aligned-face cache")
    c.add_argument("--purge", action="store_true", help="delete every cached face")
    c.set_defaults(func=commands.cmd_cache)

    g = sub.add_parser("make-synthetic", help="generate the synthetic demonstration dataset")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--per-class", type=int, required=True)
    g.add_argument("--photos-per-identity", type=int, default=3)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=commands.cmd_make_synthetic)

    a = sub.add_parser("app", help="open the desktop app (optionally screening a photo at once)")
    a.add_argument("photo", nargs="?", type=Path, help="a photo to screen at start")
    a.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="BUNDLE",
        help="bundle name or path; repeat for several (default from settings)",
    )
    a.add_argument("--device", default=None, choices=DEVICE_CHOICES)
    a.add_argument("--exit-after-results", action="store_true", help=argparse.SUPPRESS)
    a.add_argument("--timings", action="store_true", help=argparse.SUPPRESS)
    a.set_defaults(func=cmd_app)

    from dysmorph_desk.training.cli import (
        add_compare_arguments,
        add_evaluate_arguments,
        add_train_arguments,
    )

    add_train_arguments(
        sub.add_parser(
            "train",
            help="cross-validate an architecture on a dataset and export a bundle trained on all of it",
        )
    )
    add_compare_arguments(
        sub.add_parser("compare", help="cross-validate several architectures on the same folds")
    )
    add_evaluate_arguments(
        sub.add_parser(
            "evaluate",
            help="score a bundle on a held-out set, optionally against clinicians' calls",
        )
    )
    add_keys_parser(sub)
    r = sub.add_parser("archs", help="list the architectures the registry can build")
    r.set_defaults(func=commands.cmd_archs)
    return p


def _add_screen_options(s: argparse.ArgumentParser, demo: bool = False) -> None:
    s.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="BUNDLE",
        help="bundle name or path; repeat for several; 'all' for every bundle",
    )
    s.add_argument(
        "--cam",
        default=None,
        choices=CAM_CHOICES,
        help=f"heatmap method (default {DEFAULT_CAM_METHOD})",
    )
    s.add_argument("--cam-target", help="class id to explain (default: the predicted class)")
    s.add_argument("--face", type=int, default=1, help="which face: 1 = largest, 2 = next...")
    s.add_argument(
        "--patient-id", default="DEMO-0001" if demo else "", help="pseudonymous patient ID"
    )
    s.add_argument("--age", type=_age, default=96.0 if demo else None, help="age in months")
    s.add_argument(
        "--sex", choices=("female", "male", "unknown"), default="female" if demo else "unknown"
    )
    s.add_argument("--operator", default="")
    s.add_argument("--notes", default="")
    s.add_argument("--clinic", default=None, help="clinic name for the report header")
    s.add_argument(
        "--prevalence",
        type=_unit,
        default=None,
        help="prevalence for PPV/NPV (default from settings)",
    )
    s.add_argument(
        "--include-photo-name", action="store_true", help="print the photo's file name in outputs"
    )
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.add_argument(
        "--force-assess", action="store_true", help="give probabilities even when checks fail"
    )
    s.add_argument("--device", default=None, choices=DEVICE_CHOICES)
    s.add_argument(
        "--runtime",
        default="onnx",
        choices=("onnx", "torch"),
        help="onnx (default) or the PyTorch reference (research; needs the [train] extra)",
    )


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM ends a run like Ctrl+C: the atomic writers remove their temporary files."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """The one error boundary: every command's failure becomes one line and a documented status.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status (see ``dysmorph_desk.errors``): 0, 2, 3, 4, 5 or 130.
    """
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 name must never crash a print
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    from dysmorph_desk.utils.logs import setup_logging

    log_file = setup_logging(args.debug)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (tests calling main from a worker)
        previous = None
    try:
        return int(args.func(args) or 0)
    except DysmorphError as exc:
        log.debug("error", exc_info=True)
        if args.debug:
            traceback.print_exc()
        _err(f"dysmorph-desk: error: {_one_line(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        _err("dysmorph-desk: interrupted")
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        log.error("internal error", exc_info=True)
        if args.debug:
            traceback.print_exc()
        where = f"; details in {log_file}" if log_file else ""
        _err(
            f"dysmorph-desk: internal error ({exc.__class__.__name__}){where}; "
            "rerun with --debug to see it"
        )
        return 5
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _one_line(text: str, limit: int = 400) -> str:
    """Messages may quote names from files: no control codes, no newlines, bounded length."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text.replace("\n", " "))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


# --- screen -------------------------------------------------------------------------------------


def _load_screener(model_names: list[str] | None, device_pref: str | None, runtime: str = "onnx"):
    from dysmorph_desk.bundles.format import find_bundles, load_bundle, resolve_bundle
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.screening.pipeline import Screener
    from dysmorph_desk.settings import Settings
    from dysmorph_desk.utils.devices import pick_device

    settings = Settings.load()
    device = pick_device(device_pref or settings.screening.device)
    names = model_names or list(settings.screening.default_models)
    if "all" in names:
        infos = find_bundles()
        if not infos:
            raise UsageError("no model bundles are installed")
    else:
        infos = [resolve_bundle(n) for n in names]
    if runtime == "torch":
        try:
            from dysmorph_desk.training.bundle_io import load_torch_bundle
        except ImportError:
            raise UsageError("--runtime torch needs the [train] extra (PyTorch)") from None
        bundles = [load_torch_bundle(i.path, device="cpu", source=i.source) for i in infos]
    else:
        threads = settings.screening.threads or None
        bundles = [load_bundle(i.path, device, i.source, threads=threads) for i in infos]
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


def _safe_stem(stem: str) -> str:
    """An output name from a photo's name: letters, digits, ``._-`` only; never hidden or empty."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stem)
    return safe.lstrip(".")[:100] or "photo"


def _shown(path: Path, args, index: int) -> str:
    """An output named in a message: its name comes from a photo's name, so only when asked."""
    if args.out_dir is None or args.include_photo_name:
        return _one_line(str(path), 200)
    return f"the output for photo {index} in --out-dir"


def _plan_outputs(args) -> list[tuple[Path | None, Path | None]]:
    """(json path, pdf path) per photo; refuses (exit 2) before any work if one exists."""
    photos: list[Path] = args.photos
    if args.out_dir is None:
        if len(photos) > 1 and (args.report or (args.json_out and args.json_out != "-")):
            raise UsageError("with several photos use --out-dir (or --json - for stdout)")
        json_path = Path(args.json_out) if args.json_out and args.json_out != "-" else None
        plans = [(json_path, args.report)] * len(photos)  # several photos: both are None here
    else:
        if args.report or (args.json_out and args.json_out != "-"):
            raise UsageError("--out-dir names the files itself; drop --report/--json PATH")
        taken: set[str] = set()  # casefolded: X.jpg and x.jpg collide on Windows and macOS
        plans = []
        for photo in photos:
            stem = _safe_stem(photo.stem)
            name, n = stem, 1
            while name.casefold() in taken:  # x.jpg, x.jpg, x-2.jpg -> x, x-2, x-2-2
                n += 1
                name = f"{stem}-{n}"
            taken.add(name.casefold())
            plans.append(
                (
                    args.out_dir / f"{name}.json",
                    None if args.no_report else args.out_dir / f"{name}.pdf",
                )
            )
    for i, pair in enumerate(plans, start=1):
        for path in pair:
            if path is None:
                continue
            if path.is_dir():
                raise UsageError(f"{_shown(path, args, i)} is a folder, not a file name")
            if path.exists() and not args.force:
                raise UsageError(f"{_shown(path, args, i)} exists; use --force to overwrite")
    return plans


def _summary(index: int, total: int, result) -> str:
    lines = [
        f"photo {index}/{total} (sha256 {result.photo_sha256[:12]}): {result.faces_detected} face(s) detected"
    ]
    bad = [q.name for q in result.quality if not q.passed]
    lines.append("  quality: " + ("all checks passed" if not bad else "failed " + ", ".join(bad)))
    for r in result.results:
        head = f"  {r.model} [{r.card.status_label}]"
        if not r.assessable:
            lines.append(f"{head}: cannot assess — {r.cannot_assess_reason}")
            continue
        probs = ", ".join(f"{r.class_names[c]} {p:.2f}" for c, p in r.probabilities.items())
        verdict = "FLAGGED for clinical review" if r.flagged else "not flagged"
        lines.append(
            f"{head}: {probs}; syndromic {r.syndromic_probability:.2f} vs threshold "
            f"{r.threshold:.2f} -> {verdict}"
        )
    for w in result.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def _photo_outputs(result, json_path, pdf_path, report_settings) -> list[tuple[Path, bytes]]:
    """Everything one photo writes, rendered in memory first (all-or-nothing; strict JSON)."""
    files: list[tuple[Path, bytes]] = []
    if json_path is not None:
        text = json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False)
        files.append((json_path, text.encode("utf-8")))
    if pdf_path is not None:
        from dysmorph_desk.report.render import report_bytes

        files.append((pdf_path, report_bytes(result, report_settings)))
    return files


def cmd_screen(args) -> int:
    from dysmorph_desk.utils.atomic import write_together

    plans = _plan_outputs(args)
    case = _case(args)
    screener, settings = _load_screener(args.models, args.device, args.runtime)
    options = _options(args, settings)
    report_settings = _report_options(args, settings)
    json_stdout = args.json_out == "-"
    summary_stream = sys.stderr if json_stdout else sys.stdout
    done, refused, failed, collected = 0, 0, 0, []
    total = len(args.photos)
    for i, (photo, (json_path, pdf_path)) in enumerate(
        zip(args.photos, plans, strict=False), start=1
    ):
        # File names can identify patients: shown only when the user asks for them.
        label = f"photo {i}/{total}" + (
            f" ({_one_line(photo.name, 120)})" if args.include_photo_name else ""
        )
        _err(f"screening {label}")
        try:
            result = screener.screen(photo, case, options)
            if args.include_photo_name:  # a non-UTF-8 name becomes U+FFFD, never surrogates
                result.photo_label = clean_text(os.fsencode(photo.name), LABEL_MAX, "file name")
            files = _photo_outputs(result, json_path, pdf_path, report_settings)
            write_together(files, force=args.force, keep_mode=True)
        except InputRefused as exc:
            refused += 1
            _err(f"{label}: refused: {_one_line(str(exc))}")
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
            continue
        if json_stdout:
            collected.append(result.to_json())
        print(_summary(i, total, result), file=summary_stream, flush=True)
        done += 1
    if json_stdout:
        print(
            json.dumps(
                collected[0] if total == 1 and collected else collected,
                indent=2,
                ensure_ascii=False,
                allow_nan=False,
            )
        )
    extra = f", {failed} failed with an internal error" if failed else ""
    print(
        f"screened {done} of {total} photo(s); {refused} refused{extra}. "
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
    screener, settings = _load_screener(args.models or ["all"], args.device, args.runtime)
    options = _options(args, settings)
    portrait = next(p for p in resources.sample_portraits() if p.name.startswith("grace_hopper"))
    with resources.as_path(portrait) as path:
        result = screener.screen(path, case, options)
    render_report(result, args.out, settings=_report_options(args, settings), force=args.force)
    print(_summary(1, 1, result))
    print(f"report written to {args.out}")
    return 0


def cmd_app(args) -> int:
    from dysmorph_desk.gui.app import run_app  # Qt only when the app is asked for

    return run_app(
        args.photo,
        args.models,
        args.device,
        exit_after_results=args.exit_after_results,
        timings=args.timings,
    )


if __name__ == "__main__":
    raise SystemExit(main())
