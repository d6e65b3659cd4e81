"""SQLite plumbing of the case store: one-line errors, and where WAL cannot be used.

Every ``sqlite3`` error and every ``OSError`` met while touching the store becomes a
:class:`~dysmorph_desk.errors.StoreError` (exit 2) whose message says what the user can do about
it; the raw SQLite text only goes to the log. Network filesystems get a rollback journal instead of
WAL: WAL keeps its index in a shared-memory file (``-shm``) that every process maps, which only
works when all of them run on the same machine, so on NFS/SMB a second computer would corrupt it.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import sys
from pathlib import Path

from dysmorph_desk.errors import StoreError

log = logging.getLogger(__name__)

BUSY = "the case store is busy (another DysmorphDesk is writing); try again"
READ_ONLY = "the case store is read-only"
FULL = "the disk holding the case store is full"
DAMAGED = (
    "the case store is damaged (PRAGMA integrity_check failed); restore it from a backup "
    "(docs/records.md)"
)
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p"})

# primary result codes (the low byte of an extended code)
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


def store_error(exc: sqlite3.Error, folder: Path | None = None) -> StoreError:
    """The one-line :class:`StoreError` for a ``sqlite3`` error (the original goes to the log).

    Args:
        exc: The error.
        folder: The store's folder: an I/O or cannot-open error where it has become read-only
            (a disk remounted read-only) says so rather than "I/O error".
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    log.debug("sqlite error %s (%s): %s", exc.__class__.__name__, code, exc)
    if primary in (_BUSY, _LOCKED) or "database is locked" in text:
        return StoreError(BUSY)
    if primary == _READONLY or "readonly" in text or "read-only" in text:
        return StoreError(READ_ONLY)
    if primary == _FULL or "disk is full" in text:
        return StoreError(FULL)
    if primary in (_CORRUPT, _NOTADB) or "not a database" in text or "malformed" in text:
        return StoreError(DAMAGED)
    on_disk = primary in (_CANTOPEN, _IOERR) and folder is not None
    if on_disk and folder is not None and not writable(folder, folder / "cases.sqlite"):
        return StoreError(READ_ONLY)
    if primary == _CANTOPEN:
        return StoreError("the case store cannot be opened (its folder is missing or not writable)")
    if primary == _IOERR:
        return StoreError("the case store could not be read or written (disk I/O error)")
    log.warning("case store: unexpected sqlite error %s", exc.__class__.__name__, exc_info=exc)
    reason = " ".join(str(exc).split())[:200]
    return StoreError(f"the case store failed ({exc.__class__.__name__}: {reason})")


def os_error(exc: OSError) -> StoreError:
    """The one-line :class:`StoreError` for a file operation in the store's folder."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return StoreError(FULL)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreError(READ_ONLY)
    reason = exc.strerror or exc.__class__.__name__
    return StoreError(f"the case store's files cannot be written: {reason}")


def as_store_error(exc: BaseException, folder: Path | None = None) -> StoreError | None:
    """:func:`store_error` for a ``sqlite3`` error, :func:`os_error` for an ``OSError``; ``None``
    for anything else (to be re-raised as it is)."""
    if isinstance(exc, sqlite3.Error):
        return store_error(exc, folder)
    if isinstance(exc, OSError):
        return os_error(exc)
    return None


def writable(folder: Path, db_file: Path) -> bool:
    """Whether the store can be written, asked before anything is opened (so nothing changes).

    ``os.access`` answers for read-only mounts even as root (EROFS); the ``statvfs`` flag is the
    second opinion where ``access`` is lenient.
    """
    if not os.access(folder, os.W_OK) or (db_file.exists() and not os.access(db_file, os.W_OK)):
        return False
    statvfs = getattr(os, "statvfs", None)
    if statvfs is not None:
        try:
            if statvfs(folder).f_flag & getattr(os, "ST_RDONLY", 1):
                return False
        except OSError:
            pass
    return True


def _unescape_mount(field: str) -> str:
    r"""/proc/mounts writes space, tab, newline and backslash as \040, \011, \012, \134."""
    out, i = [], 0
    while i < len(field):
        chunk = field[i : i + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and chunk[1:].isdigit():
            out.append(chr(int(chunk[1:], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_fs_type(path: Path, mounts: str | None = None) -> str | None:
    """The filesystem type of the mount holding ``path``, from ``/proc/mounts`` (Linux only).

    Args:
        path: Any path; it is resolved, and the longest mount point above it wins.
        mounts: The text of ``/proc/mounts`` (tests pass their own); read when None.
    """
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    target = str(path.resolve())
    best, fs_type = -1, None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = _unescape_mount(parts[1]).rstrip("/") or "/"
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) > best:
            best, fs_type = len(point), parts[2]
    return fs_type


def network_share(path: Path) -> str | None:
    """What makes ``path`` a network share ("nfs4", "a UNC path"...), or None for a local disk.

    Linux reads the mount table; Windows recognises UNC paths and mapped network drives. macOS
    has no cheap check (``os.statvfs`` does not give the filesystem type) and is taken as local.
    """
    if sys.platform == "win32":
        text = str(path)
        if text.startswith(("\\\\", "//")):
            return "a UNC path"
        import ctypes

        drive = os.path.splitdrive(os.path.abspath(text))[0]
        if drive and ctypes.windll.kernel32.GetDriveTypeW(drive + "\\") == 4:  # DRIVE_REMOTE
            return "a network drive"
        return None
    if sys.platform.startswith("linux"):
        fs_type = mount_fs_type(path)
        if fs_type in NETWORK_FS:
            return fs_type
    return None
