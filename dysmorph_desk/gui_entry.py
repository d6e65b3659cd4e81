"""Launchers that open the desktop app: the ``dysmorph-desk-app`` gui-script and the installers'
frozen ``dysmorph-desk`` executable. Both go through the CLI's one error boundary (``cli.main``).

``multiprocessing.freeze_support()`` comes first in both: the engine runs in its own process started
with the *spawn* method, which re-runs this executable; in a frozen build, without it, the worker
would open a second app instead of running the engine.

- ``dysmorph-desk-app [PHOTO] [app options]``: always the app (``--version`` prints the version).
  On Windows it is a windowed executable: no console window opens beside the app.
- frozen ``dysmorph-desk``: the same subcommands as the pip-installed one; with no arguments (a
  double-click) or only a photo (a file opened with it) it opens the app, where the pip
  ``dysmorph-desk`` prints its help.

Nothing here imports Qt (the app is imported by ``cli.cmd_app`` after the platform check).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

_TOP_LEVEL_OPTIONS = ("--debug",)


def _ensure_streams() -> None:
    """A windowed executable (pythonw, PyInstaller ``console=False``) has no stdout/stderr: give
    it the null device so that a print (``--version``, an error line) cannot crash it."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def _split_top_level(argv: list[str]) -> tuple[list[str], list[str]]:
    """``--debug`` belongs before the subcommand; everything else to ``app``."""
    top = [a for a in argv if a in _TOP_LEVEL_OPTIONS]
    return top, [a for a in argv if a not in _TOP_LEVEL_OPTIONS]


def app_argv(argv: list[str]) -> list[str]:
    """The CLI arguments for ``dysmorph-desk-app ARGS``: ``app ARGS``, or ``--version``."""
    if argv[:1] in (["--version"], ["-V"]):
        return ["--version"]
    top, rest = _split_top_level(argv)
    return [*top, "app", *rest]


def subcommands() -> frozenset[str]:
    """The CLI's subcommand names (from its parser, so a new one is never opened as a photo)."""
    import argparse

    from dysmorph_desk.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return frozenset(action.choices)
    return frozenset()


def frozen_argv(argv: list[str]) -> list[str]:
    """The CLI arguments for the frozen ``dysmorph-desk ARGS``.

    Nothing (a double-click; macOS's ``-psn_…`` process serial number is dropped) opens the app;
    a first argument that is an existing file and not a subcommand is a photo to open in the app;
    anything else is the CLI as usual.
    """
    argv = [a for a in argv if not a.startswith("-psn_")]
    if not argv:
        return ["app"]
    first = next((a for a in argv if a not in _TOP_LEVEL_OPTIONS), None)
    if (
        first is not None
        and not first.startswith("-")
        and first not in subcommands()
        and Path(first).is_file()
    ):
        return app_argv(argv)
    return argv


def main(argv: list[str] | None = None) -> int:
    """``dysmorph-desk-app``: open the app (optionally with a photo), or print the version.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status of ``dysmorph-desk app`` (see ``dysmorph_desk.errors``).
    """
    multiprocessing.freeze_support()
    _ensure_streams()
    from dysmorph_desk.cli import main as cli_main

    return cli_main(app_argv(sys.argv[1:] if argv is None else argv))


def frozen_main(argv: list[str] | None = None) -> int:
    """The installers' ``dysmorph-desk`` executable (PyInstaller's entry script calls this).

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The CLI's exit status.
    """
    multiprocessing.freeze_support()
    _ensure_streams()
    from dysmorph_desk.cli import main as cli_main

    return cli_main(frozen_argv(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
