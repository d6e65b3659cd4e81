"""Erasing a deleted case everywhere: the face cache, and whatever later features keep.

Deleting a case removes its rows and photo files in the store itself; anything else that keeps
data derived from its photos registers a deleter here (the clinic gallery does, below), so the
deletion rule in docs/records.md stays one rule. The face cache is erased here directly: its keys
are the photo hashes (``utils.paths.face_cache_prefix``), and importing the training package would
pull it into the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dysmorph_desk.utils import paths

log = logging.getLogger(__name__)

Deleter = Callable[[str, list[str]], None]
_DELETERS: list[Deleter] = []


def register_deleter(fn: Deleter) -> Deleter:
    """Call ``fn(case_uid, photo_sha256s)`` after every case deletion (usable as a decorator).

    Args:
        fn: Erases what its feature keeps for those photos. It runs after the deletion has been
            committed; an exception is logged and reported, and the other deleters still run.

    Example:
        >>> @register_deleter  # doctest: +SKIP
        ... def forget_gallery(case_uid: str, photo_sha256s: list[str]) -> None:
        ...     gallery.remove(photo_sha256s)
    """
    if fn not in _DELETERS:
        _DELETERS.append(fn)
    return fn


def unregister_deleter(fn: Deleter) -> None:
    if fn in _DELETERS:
        _DELETERS.remove(fn)


def forget_cached_faces(photo_sha256s: list[str]) -> tuple[int, list[str]]:
    """Remove every cached face of these photos: (files removed, problems)."""
    removed, problems = 0, []
    for sha in photo_sha256s:
        for path in paths.face_cache_files(sha):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                problems.append(f"a cached face could not be removed ({exc.strerror})")
    return removed, problems


def run_deleters(case_uid: str, photo_sha256s: list[str]) -> list[str]:
    """Run the registered deleters; one line per failure (logged without patient data)."""
    problems = []
    for fn in list(_DELETERS):
        name = getattr(fn, "__qualname__", repr(fn))
        try:
            fn(case_uid, list(photo_sha256s))
        except Exception as exc:
            log.warning("deleter %s failed for case %s", name, case_uid, exc_info=True)
            problems.append(f"{name} failed ({exc.__class__.__name__})")
    return problems


def forget_gallery_entries(case_uid: str, photo_sha256s: list[str]) -> None:
    """Remove the case's entries from every gallery that holds case-store entries.

    Registered here rather than by the gallery package, so that every process that deletes a case
    runs it without having imported the gallery; the import is lazy (``gallery/links.py``).
    """
    from dysmorph_desk.gallery.links import forget_case

    forget_case(case_uid)


register_deleter(forget_gallery_entries)
