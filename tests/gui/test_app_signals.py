"""SIGTERM (logout, kill) ends the app cleanly: exit 130 from the exit table, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_sigterm_quits_the_app_with_status_130(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DYSMORPH_DESK_HOME=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dysmorph_desk", "app"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)  # the window is up and the engine started (about 1-3 s here)
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the app did not quit on SIGTERM") from None
    assert proc.returncode == 130, err
    assert "Traceback" not in err
