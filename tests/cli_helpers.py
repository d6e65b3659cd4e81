"""The in-process CLI call the tests share: ``run(capsys, *argv)`` → (exit status, stdout, stderr)."""

from __future__ import annotations

import pytest

from dysmorph_desk import cli


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Exit status, stdout, stderr of one in-process CLI call (argparse errors included)."""
    capsys.readouterr()
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err
