"""The photos a ``screen`` command line names: folders expanded, every path checked before any
model loads.

A folder stands for the photos in it (``--recursive``: in its subfolders too), in natural name
order (``img2`` before ``img10``), hidden files (``.name``, macOS ``._name`` resource forks) left
out, only the suffixes the pipeline reads (``PHOTO_SUFFIXES``). A file named on the command line
is taken whatever its suffix: the decoder decides.

Every photo is then checked cheaply — it exists, is a regular file (symlinks followed) and can be
opened for reading — so a typo, a folder without photos or a FIFO is refused in a fraction of a
second, before the bundles load. Refusals keep their place in the batch (``photo 2/5: refused:
file not found``); the other photos are still screened.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from dysmorph_desk.utils.inputs import kind_of

# The file suffixes of the formats faces.image.ACCEPTED_FORMATS opens (tests/cli check the map).
PHOTO_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".mpo",
    ".png",
    ".apng",
    ".webp",
    ".bmp",
    ".tif",
    ".tiff",
    ".gif",
    ".heic",
    ".heif",
    ".hif",
    ".avif",
)
_SUFFIXES_SHOWN = "jpg, png, heic, webp..."
SHORT_HASH = 12  # hex digits of a photo's SHA-256 shown in messages (as the screened summary)
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_DIGITS = re.compile(r"(\d+)")

log = logging.getLogger("dysmorph_desk.cli")


@dataclass(frozen=True)
class PhotoInput:
    """One photo of the batch: its path and, when the pre-check refused it, why.

    ``argument`` is the 1-based position of the command-line path it came from (a folder gives
    several photos the same ``argument``).
    """

    path: Path
    argument: int
    refused: str | None = None


def _natural(path: Path) -> tuple[tuple[int, int | str], ...]:
    """Sort key: names compared case-insensitively, runs of digits as numbers (img2 < img10)."""
    key: list[tuple[int, int | str]] = []
    for part in path.parts:
        for i, piece in enumerate(_DIGITS.split(part.casefold())):
            if piece:
                key.append((1, int(piece)) if i % 2 else (0, piece))
        key.append((0, "/"))
    return tuple(key)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"could not read the file: {exc.strerror or type(exc).__name__}"


def _kind(mode: int) -> str:
    """Why a path of this (non-regular, non-folder) mode is not a photo: the wording of
    ``utils.inputs.open_regular``, which refuses the same things when a photo is read."""
    return kind_of(mode) or "is not a regular file"


def file_problem(path: Path, st: os.stat_result | None = None) -> str | None:
    """Why ``path`` cannot be read as a photo file (None: a readable regular file).

    Never blocks: a FIFO or a device is recognised from ``stat`` before anything is opened, and
    the readability check opens non-blocking and closes at once (nothing is read).
    """
    try:
        st = st or os.stat(path)
    except OSError as exc:
        return _os_reason(exc)
    except ValueError:  # an embedded NUL
        return "invalid file name"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return _kind(st.st_mode)
    try:
        os.close(os.open(path, _OPEN_FLAGS))
    except OSError as exc:
        return _os_reason(exc)
    return None


def _folder_photos(folder: Path, recursive: bool) -> tuple[list[Path], bool]:
    """The photo-suffixed, non-hidden entries of ``folder`` (sorted), and whether it has
    subfolders (to hint at ``--recursive``).

    Symlinked subfolders are not followed (no loops); a subfolder that cannot be listed is left
    out (logged), the folder itself not being listable raises ``OSError``.
    """
    found: list[Path] = []
    has_subfolders = False

    def on_error(exc: OSError) -> None:
        if exc.filename is None or Path(exc.filename) == folder:
            raise exc
        log.warning("a subfolder could not be listed: %s", exc.strerror)

    for root, dirs, files in os.walk(folder, onerror=on_error):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        has_subfolders = has_subfolders or bool(dirs)
        found += [
            Path(root) / name
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in PHOTO_SUFFIXES
        ]
        if not recursive:
            break
    return sorted(found, key=lambda p: _natural(p.relative_to(folder))), has_subfolders


def has_subfolders(folder: Path) -> bool:
    """Whether ``folder`` has a (non-hidden) subfolder: worth a hint at ``--recursive``."""
    try:
        with os.scandir(folder) as entries:
            return any(e.is_dir() and not e.name.startswith(".") for e in entries)
    except OSError:
        return False


def expand_photos(paths: list[Path], recursive: bool = False) -> list[PhotoInput]:
    """Every photo the command line names, in order, each checked (see the module docstring).

    Args:
        paths: the ``photos`` arguments: files and folders.
        recursive: also take the photos in subfolders of a folder.

    Returns:
        One ``PhotoInput`` per photo; a path that gives none (missing, unreadable, a FIFO, a
        folder without photos) is one refused entry in its place.
    """
    photos: list[PhotoInput] = []
    for argument, path in enumerate(paths, start=1):
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            st = None
        if st is None or not stat.S_ISDIR(st.st_mode):
            photos.append(PhotoInput(path, argument, file_problem(path, st)))
            continue
        try:
            found, has_subfolders = _folder_photos(path, recursive)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            photos.append(PhotoInput(path, argument, f"a folder that cannot be listed: {reason}"))
            continue
        if not found:
            where = "in it or its subfolders" if recursive else "in it"
            hint = (
                "; add --recursive for its subfolders" if has_subfolders and not recursive else ""
            )
            photos.append(
                PhotoInput(
                    path, argument, f"a folder with no photos {where} ({_SUFFIXES_SHOWN}){hint}"
                )
            )
            continue
        photos += [PhotoInput(p, argument, file_problem(p)) for p in found]
    return photos


def short_hash(path: Path) -> str | None:
    """The first ``SHORT_HASH`` hex digits of the file's SHA-256, or None if it cannot be read.

    Identifies a refused photo without its name (names can identify patients); read with the
    photo reader's own limits, so a FIFO or a 10 GB file costs nothing.
    """
    from dysmorph_desk.errors import DysmorphError
    from dysmorph_desk.utils.inputs import open_regular

    try:
        data = open_regular(path)
    except (DysmorphError, OSError, ValueError):
        return None
    return hashlib.sha256(data).hexdigest()[:SHORT_HASH]
