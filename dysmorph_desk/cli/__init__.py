"""Command-line interface: a thin layer over the core (screening, bundles, synthetic, training).

Contract: results on stdout, messages and progress on stderr; exit status 0 done, 2 usage (or an
output exists without --force, or cannot be written), 3 a photo/data refused, 4 model/bundle error,
5 internal error (a bug; traceback in the log file), 130 interrupted (Ctrl+C or SIGTERM). The table
is in ``dysmorph_desk.errors`` and the README.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import traceback
from pathlib import Path

from dysmorph_desk import __version__
from dysmorph_desk.cli import commands
from dysmorph_desk.cli.cases import add_cases_parser
from dysmorph_desk.cli.keys import add_keys_parser
from dysmorph_desk.cli.screen import cmd_demo, cmd_screen
from dysmorph_desk.errors import DysmorphError
from dysmorph_desk.explain.methods import CAM_CHOICES, DEFAULT_CAM_METHOD
from dysmorph_desk.utils.devices import DEVICE_CHOICES
from dysmorph_desk.utils.inputs import terminal_safe

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
    s.add_argument(
        "--visit",
        action="store_true",
        help="the photos are one visit of one patient: one fused result per model, one JSON/PDF",
    )
    s.add_argument("--fhir", type=Path, help="FHIR R4B JSON Bundle (one photo, or --visit)")
    s.add_argument(
        "--dicom", type=Path, help="DICOM Encapsulated PDF of the report (one photo, or --visit)"
    )
    s.add_argument(
        "--include-photo",
        action="store_true",
        default=None,
        help="also export the photo: a FHIR Media resource, and a DICOM VL Photographic Image per "
        "photo beside --dicom (D-photoN.dcm); default: the records.export_photos setting (off)",
    )
    s.add_argument(
        "--store", action="store_true", help="file the screening in the case store (default place)"
    )
    s.add_argument(
        "--store-path",
        type=Path,
        metavar="PATH",
        help="file the screening in the case store at PATH",
    )
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
    m.add_argument(
        "--calibrate",
        type=Path,
        metavar="BUNDLE",
        help="compute a bundle's atypicality statistics from --data and rewrite it (drops its "
        "signature unless --key re-signs it)",
    )
    m.add_argument(
        "--data",
        type=Path,
        metavar="D",
        help="with --calibrate: a labelled photo folder (labels.csv, a CSV, or class folders)",
    )
    m.add_argument(
        "--key",
        type=Path,
        metavar="KEY",
        help="with --sign or --calibrate: the private key (PEM) to sign with",
    )
    m.add_argument(
        "--out",
        type=Path,
        metavar="NEW",
        help="with --upgrade, --sign or --calibrate: write here instead of in place",
    )
    m.add_argument(
        "--force",
        action="store_true",
        help="with --install: replace a bundle of the same name; with --upgrade/--sign/--calibrate --out: overwrite",
    )
    m.add_argument(
        "--allow-unvalidated",
        action="store_true",
        help="with --install: accept a bundle whose card says it failed validation",
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
    add_cases_parser(sub)
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
    s.add_argument(
        "--cam-target",
        help="class id to explain (default: the syndromic class of a two-class model, "
        "else the predicted class)",
    )
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
    s.add_argument(
        "--allow-unvalidated",
        action="store_true",
        help="use a model whose card says it failed validation (research only; marked so)",
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
    """Messages may quote names from files: escapes instead of control codes, bounded length."""
    return terminal_safe(text, limit)


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
