"""Outputs that cannot be written, and interrupted runs: exit 2 or 130, never a partial file.

A full disk (a 200 KB tmpfs, pre-filled) and a read-only folder (a read-only bind mount: root
ignores permission bits, not a read-only mount) give exit 2 with "cannot write", and leave neither
output nor any temporary file behind, even when the JSON would have fitted and only the PDF did not.
SIGTERM during a batch gives 130 and no temporary file; the photos finished before it have both
outputs. Mounting needs root (as here and in CI); elsewhere these tests skip, saying why.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.helpers import (
    CLI,
    Outcome,
    audit_folder,
    check,
    photo_outputs,
    strict_json,
    subprocess_env,
)

DISK_KB = 200


def _mount(*args: str | Path) -> None:
    proc = subprocess.run(
        ["mount", *map(str, args)], capture_output=True, text=True, check=False, timeout=30
    )
    if proc.returncode != 0:
        pytest.skip(f"mount is not permitted here ({proc.stderr.strip() or proc.returncode})")


def _umount(path: Path) -> None:
    proc = subprocess.run(["umount", str(path)], capture_output=True, check=False, timeout=30)
    if proc.returncode != 0:  # still busy: detach it, so the tmp folder can go
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False, timeout=30)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 KB tmpfs, unmounted afterwards."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={DISK_KB}k,mode=0755", "tmpfs", disk)
    try:
        yield disk
    finally:
        _umount(disk)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder holding ``old.json``, bind-mounted read-only over itself."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "old.json").write_text('{"old": true}\n')
    _mount("--bind", folder, folder)
    try:
        proc = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(folder), str(folder)],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if proc.returncode != 0:
            pytest.skip(f"a read-only remount is not permitted here ({proc.stderr.strip()})")
        try:
            (folder / "probe").write_text("x")
        except OSError:
            pass
        else:
            pytest.skip("the read-only bind mount is writable here")
        yield folder
    finally:
        _umount(folder)


def _fill(disk: Path, leave_kb: int) -> None:
    """Fill the disk, leaving about ``leave_kb`` KB free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    (disk / "filler.bin").write_bytes(b"\0" * max(0, free - leave_kb * 1024))


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def photo(portraits) -> Path:
    return portraits["grace_hopper"]


# --- a full disk -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "leave_kb",
    [pytest.param(16, id="json-fits-pdf-does-not"), pytest.param(0, id="nothing-fits")],
)
def test_full_disk_is_a_usage_error_and_leaves_nothing(dd: CLI, small_disk, photo, leave_kb):
    _fill(small_disk, leave_kb)
    j, r = small_disk / "r.json", small_disk / "r.pdf"
    result = dd.expect(2, "screen", photo, "--json", j, "--report", r, "--cam", "none")
    assert "cannot write" in result.message, result.message
    assert _names(small_disk) == ["filler.bin"], "a partial or temporary file was left"
    # with room again, the same command succeeds: the failure was the disk, not the photo
    (small_disk / "filler.bin").unlink()
    dd.expect(0, "screen", photo, "--json", j, "--report", r, "--cam", "none")
    assert _names(small_disk) == ["r.json", "r.pdf"]
    audit_folder(small_disk)


@pytest.mark.slow
def test_full_disk_with_out_dir_and_json_on_stdout(dd: CLI, small_disk, photo):
    _fill(small_disk, 16)
    out = small_disk / "batch"
    result = dd.expect(2, "screen", photo, photo, "--out-dir", out, "--cam", "none")
    assert "cannot write" in result.message
    assert not out.exists() or _names(out) == []  # not even the summary
    # --json - with a report that does not fit: no JSON document on stdout either
    result = dd.expect(
        2, "screen", photo, "--json", "-", "--report", small_disk / "r.pdf", "--cam", "none"
    )
    assert "cannot write" in result.message and result.out.strip() == ""
    assert _names(small_disk) == ["batch", "filler.bin"] or _names(small_disk) == ["filler.bin"]


# --- a read-only folder ----------------------------------------------------------------------------


def test_read_only_folder_is_a_usage_error_and_leaves_nothing(dd: CLI, read_only, photo):
    j, r = read_only / "r.json", read_only / "r.pdf"
    result = dd.expect(2, "screen", photo, "--json", j, "--report", r, "--cam", "none")
    assert "cannot write" in result.message, result.message
    assert _names(read_only) == ["old.json"]


def test_read_only_out_dir_is_a_usage_error(dd: CLI, read_only, photo):
    result = dd.expect(2, "screen", photo, photo, "--out-dir", read_only, "--cam", "none")
    assert "cannot write" in result.message, result.message
    assert _names(read_only) == ["old.json"]


@pytest.mark.slow
def test_read_only_missing_subfolder_and_forced_overwrite(dd: CLI, read_only, photo):
    result = dd.expect(2, "screen", photo, "--out-dir", read_only / "new" / "sub", "--cam", "none")
    assert "cannot write" in result.message, result.message
    old = read_only / "old.json"
    result = dd.expect(2, "screen", photo, "--json", old, "--force", "--cam", "none")
    assert "cannot write" in result.message
    assert old.read_text() == '{"old": true}\n'
    assert _names(read_only) == ["old.json"]


# --- SIGTERM ---------------------------------------------------------------------------------------


def _stderr_lines(proc: subprocess.Popen[bytes]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            lines.put(raw.decode("utf-8", "backslashreplace"))
        lines.put("")  # end of stream

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _terminate_during_batch(tmp_path: Path, photo: Path, delay: float) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    for i in range(12):
        shutil.copy(photo, photos / f"p{i:02d}.jpg")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            *("-m", "dysmorph_desk", "screen"),
            *sorted(map(str, photos.iterdir())),
            *("--out-dir", str(out)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        lines = _stderr_lines(proc)
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not any("screening photo" in ln for ln in seen):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line, f"the process ended before screening: {''.join(seen)}"
            seen.append(line)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        while (line := lines.get(timeout=10)) != "":
            seen.append(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(seen)
    outcome = check(Outcome(proc.returncode, stdout.decode("utf-8", "replace"), err), 130)
    assert "interrupted" in outcome.err
    assert not out.exists() or not [n for n in _names(out) if n.endswith(".tmp")]
    written = photo_outputs(out) if out.exists() else []
    assert not [n for n in written if n.startswith(".") or n.endswith(".tmp")], written
    stems = {n.rsplit(".", 1)[0] for n in written}
    assert sorted(written) == sorted(f"{s}.{ext}" for s in stems for ext in ("json", "pdf"))
    assert len(stems) < 12, "the batch finished before SIGTERM: the test proves nothing"
    for s in stems:
        strict_json((out / f"{s}.json").read_bytes())


@pytest.mark.parametrize(
    "delay",
    [
        pytest.param(0.0, id="at-first-photo"),
        pytest.param(0.4, id="mid-photo", marks=pytest.mark.slow),
        pytest.param(1.3, id="later", marks=pytest.mark.slow),
    ],
)
def test_sigterm_exits_130_without_temporary_files(tmp_path, photo, delay):
    _terminate_during_batch(tmp_path, photo, delay)


# --- output names that cannot be files -------------------------------------------------------------

LONG = "n" * 300  # over NAME_MAX (255 bytes) on every common file system


def _bad_outputs(tmp: Path) -> dict[str, list[str | Path]]:
    (tmp / "a-file").write_text("x")
    (tmp / "dangling.json").symlink_to(tmp / "nowhere" / "x.json")
    return {
        "json-name-too-long": ["--json", tmp / f"{LONG}.json"],
        "report-name-too-long": ["--report", tmp / f"{LONG}.pdf"],
        "out-dir-name-too-long": ["--out-dir", tmp / LONG],
        "json-name-with-nul": ["--json", f"{tmp}/a\x00b.json"],  # in-process only: argv has no NUL
        "out-dir-with-nul": ["--out-dir", f"{tmp}/a\x00b"],
        "json-and-report-same-file": ["--json", tmp / "same", "--report", tmp / "same"],
        "out-dir-is-a-file": ["--out-dir", tmp / "a-file"],
        "json-under-a-file": ["--json", tmp / "a-file" / "r.json"],
        "report-is-a-folder": ["--report", tmp],
        "json-dangling-symlink": ["--json", tmp / "dangling.json"],
    }


BAD_OUTPUTS = [
    "json-name-too-long",
    "report-name-too-long",
    "out-dir-name-too-long",
    "json-name-with-nul",
    "out-dir-with-nul",
    "json-and-report-same-file",
    "out-dir-is-a-file",
    "json-under-a-file",
    "report-is-a-folder",
    "json-dangling-symlink",
]
FAST_BAD_OUTPUTS = {"json-name-too-long", "json-name-with-nul", "json-and-report-same-file"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c, marks=() if c in FAST_BAD_OUTPUTS else pytest.mark.slow)
        for c in BAD_OUTPUTS
    ],
)
def test_output_names_that_cannot_be_written_are_usage_errors(dd: CLI, tmp_path, photo, case):
    work = tmp_path / "w"
    work.mkdir()
    opts = _bad_outputs(work)[case]
    before = _names(work)
    dd.expect(2, "screen", photo, *opts, "--cam", "none")
    assert _names(work) == before


# --- a failure between the two files of a pair -----------------------------------------------------


def _fail_on_second(real, exc: BaseException):
    calls = []

    def fake(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise exc
        return real(*args, **kwargs)

    return fake


@pytest.mark.parametrize(
    ("target", "exc", "expected"),
    [
        pytest.param("fsync", KeyboardInterrupt(), 130, id="ctrl-c-writing-the-second"),
        pytest.param("replace", KeyboardInterrupt(), 130, id="ctrl-c-between-renames"),
        pytest.param(
            "replace", OSError(28, "No space left on device"), 2, id="enospc-between-renames"
        ),
    ],
)
def test_a_failure_inside_the_paired_write_leaves_neither_file(
    dd: CLI, tmp_path, photo, monkeypatch, target, exc, expected
):
    """JSON and PDF are written all-or-nothing: whichever step fails, neither is left, nor a temp."""
    out = tmp_path / "out"
    out.mkdir()
    with monkeypatch.context() as patch:
        patch.setattr(os, target, _fail_on_second(getattr(os, target), exc))
        result = dd.expect(
            expected,
            "screen",
            photo,
            "--json",
            out / "r.json",
            "--report",
            out / "r.pdf",
            "--cam",
            "none",
        )
    assert ("interrupted" if expected == 130 else "cannot write") in result.err
    assert _names(out) == []


@pytest.mark.slow
def test_full_disk_with_fhir_and_dicom_leaves_nothing(dd: CLI, small_disk, photo):
    _fill(small_disk, 40)
    outs = {k: small_disk / n for k, n in (("--json", "r.json"), ("--report", "r.pdf"))}
    outs |= {"--fhir": small_disk / "r.fhir.json", "--dicom": small_disk / "r.dcm"}
    opts = [x for k, v in outs.items() for x in (k, v)]
    result = dd.expect(2, "screen", photo, *opts, "--cam", "none")
    assert "cannot write" in result.message
    assert _names(small_disk) == ["filler.bin"]
