"""Fixtures of the case-store tests: a store folder, and real mounts (read-only, tiny tmpfs).

The mounts need root (CI runs as root); where ``mount`` fails the test is skipped with the reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@contextmanager
def _mounted(target: Path, *setup: tuple[str, ...]) -> Iterator[Path]:
    done = 0
    try:
        for cmd in setup:
            proc = _run(*cmd)
            if proc.returncode != 0:
                pytest.skip(f"cannot mount ({' '.join(cmd[:3])}): {proc.stderr.strip()[:200]}")
            done += 1
        yield target
    finally:
        if done:  # one mount either way: the remount of a bind adds none
            _run("umount", str(target))


@pytest.fixture
def read_only() -> Callable[[Path], AbstractContextManager[Path]]:
    """``with read_only(folder):`` the folder is a read-only bind mount of itself."""

    def make(folder: Path):
        return _mounted(
            folder,
            ("mount", "--bind", str(folder), str(folder)),
            ("mount", "-o", "remount,ro,bind", str(folder), str(folder)),
        )

    return make


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 300 kB tmpfs: a disk that fills up after a few screenings."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    with _mounted(folder, ("mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder))):
        yield folder
