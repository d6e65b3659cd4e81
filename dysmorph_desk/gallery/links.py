"""Gallery entries from the case store are deleted with their case (docs/records.md's one rule).

``gallery add --case UID`` adds a case's photos to a gallery the user chose, anywhere on disk. So
that deleting the case can find those entries again, the gallery's path is remembered here, in the
platformdirs data folder (``gallery-links.json``: a list of absolute paths, nothing about
patients). The case store's deleter (``records/deleters.py``) calls :func:`forget_case`, which
removes the case's entries from every remembered gallery and rewrites it atomically.

A remembered gallery that is gone (moved, deleted) is dropped from the list and reported: if it
was moved, its entries of the deleted case must be removed there with ``gallery remove G --case
UID``. A copy given to another clinic is beyond reach: share galleries built from data folders,
or remove case entries first (docs/gallery.md).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from dysmorph_desk.errors import UsageError
from dysmorph_desk.gallery.errors import GalleryError
from dysmorph_desk.utils import paths

log = logging.getLogger(__name__)

LINKS_NAME = "gallery-links.json"


def links_file() -> Path:
    return paths.data_dir() / LINKS_NAME


def linked_galleries() -> list[Path]:
    """The galleries known to hold entries from the case store (an unreadable list: none)."""
    try:
        data = json.loads(links_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.warning("the gallery link list is unreadable (%s); ignoring it", exc.__class__.__name__)
        return []
    items = data.get("galleries") if isinstance(data, dict) else None
    return [Path(p) for p in items if isinstance(p, str)] if isinstance(items, list) else []


def _save(galleries: list[Path]) -> None:
    from dysmorph_desk.utils.atomic import write_text_atomic

    unique = sorted({str(p) for p in galleries})
    write_text_atomic(
        links_file(), json.dumps({"version": 1, "galleries": unique}, indent=2) + "\n"
    )


def _key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def remember(path: str | Path) -> None:
    """Remember a gallery that holds entries from the case store."""
    p = Path(os.path.abspath(path))
    known = linked_galleries()
    if _key(p) not in {_key(k) for k in known}:
        _save([*known, p])


def forget(path: str | Path) -> None:
    """Stop remembering a gallery (it holds no case-store entries any more)."""
    key = _key(Path(path))
    known = linked_galleries()
    kept = [k for k in known if _key(k) != key]
    if len(kept) != len(known):
        _save(kept)


def forget_case(case_uid: str) -> int:
    """Remove the entries of a deleted case from every remembered gallery; how many were removed.

    Raises:
        GalleryError: a remembered gallery is gone or cannot be read or rewritten; the others are
            done first. The case store reports it as a deletion step that failed.
    """
    from dysmorph_desk.gallery.store import read_gallery, write_gallery

    removed = 0
    problems: list[str] = []
    still: list[Path] = []
    known = linked_galleries()
    for path in known:
        if not path.exists():
            problems.append(
                f"{path.name} (remembered at {path.parent}) is gone; if it was moved, remove the "
                f"case's entries there with `dysmorph-desk gallery remove G --case {case_uid}`"
            )
            continue
        try:
            gallery = read_gallery(path)
            gone = gallery.remove_case(case_uid)
            if gone:
                write_gallery(gallery, path)
                removed += len(gone)
                log.info("removed %d entries of case %s from %s", len(gone), case_uid, path.name)
        except (GalleryError, UsageError) as exc:
            problems.append(str(exc))
            still.append(path)
            continue
        if gallery.case_uids():
            still.append(path)
    if len(still) != len(known):
        _save(still)
    if problems:
        raise GalleryError("; ".join(problems))
    return removed


def shipped_galleries() -> dict[str, Path]:
    """The galleries shipped beside the demo bundles (``models/*.ddgallery``), by name."""
    from dysmorph_desk.utils import resources

    try:
        with resources.as_path(resources.bundled_models()) as shipped:
            folder = Path(shipped)
    except ModuleNotFoundError:  # the install lost its models folder
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.ddgallery"))} if folder.is_dir() else {}


def resolve_gallery(value: str | Path) -> Path:
    """A gallery path as given, or a shipped gallery's name (``demo-syndromes``)."""
    path = Path(value)
    try:
        if path.exists() or len(path.parts) > 1 or path.suffix:
            return path
    except (OSError, ValueError):  # a name the file system refuses: read_gallery says so in a line
        return path
    return shipped_galleries().get(str(value), path)
