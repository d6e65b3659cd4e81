"""Atomic file writes: a reader never sees a half-written report, JSON or bundle."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dysmorph_desk.errors import UsageError


def check_writable(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path.name} exists; use --force to overwrite")


def new_file_mode() -> int:
    """The mode an ordinary new file would get; mkstemp's 0600 would surprise a shared folder.

    Reading the umask means setting it briefly; the window is tiny and only file creation by
    other threads in that instant could be affected.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; not possible on every platform/filesystem."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


@contextmanager
def open_atomic(
    path: str | Path, *, force: bool = True, keep_mode: bool = False, sync_dir: bool = False
) -> Iterator[BinaryIO]:
    """A binary file handle whose contents replace ``path`` only when the block ends without error.

    The one atomic writer of the package: a temporary file beside ``path``, fsync, then rename over
    it; on any exception (including Ctrl+C) the temporary file is removed and ``path`` is untouched.
    Large outputs (training checkpoints) stream into it instead of being held in memory.

    Args:
        path: The file to write; missing parent folders are created.
        force: Replace an existing file; without it an existing file is a :class:`UsageError`
            ("<name> exists; use --force to overwrite").
        keep_mode: When replacing a file, keep its permission bits rather than giving the new file
            the mode an ordinary new file would get.
        sync_dir: Also fsync the folder, so the rename itself survives a crash (reports).

    Example:
        >>> with open_atomic(tmp / "state.pt") as fh:  # doctest: +SKIP
        ...     torch.save(state, fh)
    """
    path = Path(path)
    check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = (path.stat().st_mode & 0o777) if keep_mode and path.exists() else new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file owner-only; give it the permissions a normal file would get
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        _fsync_dir(path.parent)


def write_bytes_atomic(
    path: str | Path,
    data: bytes,
    *,
    force: bool = True,
    keep_mode: bool = False,
    sync_dir: bool = False,
) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`open_atomic` for the arguments)."""
    with open_atomic(path, force=force, keep_mode=keep_mode, sync_dir=sync_dir) as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, *, force: bool = True) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), force=force)
