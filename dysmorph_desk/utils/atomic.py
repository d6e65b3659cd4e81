"""Atomic file writes: a reader never sees a half-written report, JSON or bundle."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dysmorph_desk.errors import OutputError, UsageError


def check_writable(path: Path, force: bool) -> None:
    """Refuse (exit 2) an existing output without ``force``, or a folder where a file should go.

    A name the file system refuses outright (too long, an embedded NUL) is refused here too.
    """
    try:
        is_dir = path.is_dir()
        exists = path.exists() or path.is_symlink()
    except (OSError, ValueError) as exc:  # ENAMETOOLONG is not "missing" to pathlib
        raise output_error(path, exc) from None
    if is_dir:
        raise UsageError(f"{path.name} is a folder, not a file name")
    if exists and not force:
        raise UsageError(f"{path.name} exists; use --force to overwrite")


def output_error(path: Path, exc: OSError | ValueError) -> OutputError:
    """A write that failed for a reason outside the program: one line naming the file.

    ``ValueError`` is what ``os`` raises for a name with an embedded NUL: not a bug of ours either.
    """
    reason = getattr(exc, "strerror", None) or (
        "invalid file name" if isinstance(exc, ValueError) else exc.__class__.__name__
    )
    return OutputError(f"cannot write {path.name}: {reason}")


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = (path.stat().st_mode & 0o777) if keep_mode and path.exists() else new_file_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except (OSError, ValueError) as exc:
        raise output_error(path, exc) from exc
    try:
        # mkstemp makes the file owner-only; give it the permissions a normal file would get
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise output_error(path, exc) from exc
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


def write_together(
    files: list[tuple[Path, bytes]], *, force: bool = True, keep_mode: bool = False
) -> None:
    """Write several files all-or-nothing (a photo's JSON and PDF): on failure none is left.

    Every file is first written in full to a temporary file beside its destination and fsynced
    (the step that meets a full disk or a read-only folder); only then are they renamed into
    place. If a rename fails, the files already moved are removed again, so a failure never leaves
    one output without the other.

    Args:
        files: (destination, contents) pairs.
        force: Replace existing files; without it an existing one is refused before any write.
        keep_mode: Keep the permission bits of files being replaced.
    """
    paths = [Path(p) for p, _ in files]
    named: set[str] = set()
    for p in paths:
        key = os.path.normcase(os.path.abspath(p))
        if key in named:  # the later file would silently replace the earlier one
            raise UsageError(f"{p.name} is named for two outputs; give each its own file")
        named.add(key)
        check_writable(p, force)
    temps: list[tuple[str, Path]] = []
    moved: list[Path] = []
    try:
        for path, data in zip(paths, (d for _, d in files), strict=True):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                mode = (
                    (path.stat().st_mode & 0o777)
                    if keep_mode and path.exists()
                    else new_file_mode()
                )
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                temps.append((tmp, path))
                os.chmod(tmp, mode)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except (OSError, ValueError) as exc:
                raise output_error(path, exc) from exc
        for tmp, path in temps:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise output_error(path, exc) from exc
            moved.append(path)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    for folder in {p.parent for p in paths}:
        _fsync_dir(folder)


def write_text_atomic(path: str | Path, text: str, *, force: bool = True) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), force=force)
