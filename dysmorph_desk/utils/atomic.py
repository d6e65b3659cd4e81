"""Atomic file writes: a reader never sees a half-written report, JSON or bundle."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dysmorph_desk.errors import UsageError


def check_writable(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path.name} exists; use --force to overwrite")


def write_bytes_atomic(path: str | Path, data: bytes, *, force: bool = True) -> Path:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file owner-only; give it the permissions a normal new file would get
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str, *, force: bool = True) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), force=force)
