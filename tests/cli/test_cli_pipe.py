"""A reader that stops early (`dysmorph-desk ... | head`) ends the run with one line and exit 2
(an output that cannot be written), never an internal error or a traceback."""

from __future__ import annotations

import subprocess
import sys


def test_a_closed_stdout_is_one_line_and_exit_2():
    proc = subprocess.Popen(
        [sys.executable, "-m", "dysmorph_desk", "hpo", "search", "a", "--limit", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before the first line
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert "standard output was closed" in err
