"""Several processes at once, and processes killed mid-write: nothing committed is ever lost.

The writers are real processes (``tests/records/writer.py``), each printing a visit uid only after
its filing returned (committed).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dysmorph_desk.records.store import CaseStore

ROOT = Path(__file__).resolve().parents[2]


def _writer(store: Path, count: int, tag: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.records.writer", str(store), str(count), tag],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _check(store: Path, committed: list[str]) -> int:
    """Integrity ok, every committed visit present, every named photo file on disk."""
    conn = sqlite3.connect(store / "cases.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        visits = {r[0] for r in conn.execute("SELECT uid FROM visits")}
        files = [r[0] for r in conn.execute("SELECT file FROM photos WHERE file IS NOT NULL")]
        results = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    finally:
        conn.close()
    missing = set(committed) - visits
    assert not missing, f"{len(missing)} committed visit(s) lost"
    assert all((store / "photos" / f).is_file() for f in files)
    assert results == 2 * len(files)  # two models per photo, never half a filing
    return len(visits)


def test_two_processes_filing_at_once_lose_nothing(tmp_path):
    store = tmp_path / "store"
    CaseStore(store).close()  # created once; the writers race on filing, not on creation
    procs = [_writer(store, 50, tag) for tag in ("A", "B")]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        outs.append(out.split())
    assert [len(o) for o in outs] == [50, 50]
    assert _check(store, outs[0] + outs[1]) == 100
    with CaseStore(store) as s:
        assert sum(c.visit_count for c in s.find_cases()) == 100


def test_a_fresh_store_created_by_two_processes_at_once(tmp_path):
    store = tmp_path / "store"
    procs = [_writer(store, 5, tag) for tag in ("A", "B")]
    lines = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        lines += out.split()
    assert _check(store, lines) == 10


@pytest.mark.slow
def test_sigkill_mid_filing_loses_nothing_committed(tmp_path):
    store = tmp_path / "store"
    CaseStore(store).close()
    rng = random.Random(1234)
    committed: list[str] = []
    started = time.monotonic()
    for i in range(20):
        proc = _writer(store, 0, f"K{i}")
        lines: list[str] = []
        first = threading.Event()

        def read(proc=proc, lines=lines, first=first) -> None:
            for line in proc.stdout:
                if line.endswith("\n"):  # a line cut by the kill is not a committed uid
                    lines.append(line.strip())
                    first.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert first.wait(30), proc.stderr.read() if proc.poll() is not None else "no output"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        reader.join(10)
        proc.stderr.close()
        committed += lines
        _check(store, committed)
        with CaseStore(store):  # opens (orphans collected) after every kill
            pass
    assert len(committed) >= 20
    assert time.monotonic() - started < 90
    with CaseStore(store) as s:  # no file is left that no row names
        named = {p.file for c in s.find_cases() for p in s.get_case(c.uid).photos}
        on_disk = {
            p.relative_to(store / "photos").as_posix()
            for p in (store / "photos").rglob("*")
            if p.is_file()
        }
        assert on_disk == named
