"""Where gallery photos come from: labelled data folders and folders of unrelated children.

Labelled data is read by the same reader as ``train`` (``training.datasets.read_dataset``: a
``labels.csv`` folder, a CSV file, or class folders; it imports no torch), called by the CLI; this
module turns its samples into :class:`~.embed.GalleryPhoto` items:

* the label is the disorder id (``OMIM:163950``); with ``local_ids`` a label that is not one
  becomes ``LOCAL:<label>``; ``exclude`` leaves labels out (``control``: unaffected children are
  not a disorder);
* the disorder's name comes from a ``disorder_name`` column of the CSV, a names file
  (``disorder_id,name``), or is the id itself;
* a patient id the data did not give (class folders; a CSV without ``patient_id``) is never derived
  from the file name, which may carry the child's name: each such photo gets ``anon-00001``...
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dysmorph_desk.errors import DataError
from dysmorph_desk.gallery.embed import GalleryPhoto
from dysmorph_desk.gallery.ids import check_disorder_id
from dysmorph_desk.utils.inputs import is_inside, read_csv_rows

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
_LOCAL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def read_names(path: str | Path) -> dict[str, str]:
    """A names file: CSV with columns ``disorder_id`` and ``name``. Raises DataError (exit 3)."""
    path = Path(path)
    rows = read_csv_rows(path)
    if not rows or not {"disorder_id", "name"} <= set(rows[0]):
        raise DataError(f"{path.name}: a names file needs the columns disorder_id and name")
    return {
        check_disorder_id(r["disorder_id"] or "", DataError, f"{path.name}, line {n}: "): (
            r["name"] or ""
        ).strip()
        for n, r in enumerate(rows, start=2)
    }


def csv_names(data: str | Path) -> dict[str, str]:
    """Label -> name from a ``disorder_name`` column of the data's CSV (empty when none)."""
    data = Path(data)
    path = data if data.is_file() else data / "labels.csv"
    if not path.is_file() or path.suffix.lower() != ".csv":
        return {}
    rows = read_csv_rows(path)
    if not rows or "disorder_name" not in rows[0]:
        return {}
    return {
        (r.get("label") or "").strip(): (r.get("disorder_name") or "").strip()
        for r in rows
        if (r.get("disorder_name") or "").strip()
    }


def disorder_id_for(label: str, local_ids: bool) -> str:
    """A data label as a disorder id; with ``local_ids`` a non-id label becomes ``LOCAL:label``."""
    text = label.strip()
    if local_ids and not text.startswith(("OMIM:", "ORPHA:", "LOCAL:")):
        text = "LOCAL:" + _LOCAL_UNSAFE.sub("-", text).strip("-._")[:58]
    hint = "" if local_ids else " (or pass --local-ids to use labels as local ids)"
    try:
        return check_disorder_id(text, DataError, "label ")
    except DataError as exc:
        raise DataError(f"{exc}{hint}; leave unaffected children out with --exclude") from None


def photos_from_samples(
    samples: Sequence[Any],
    *,
    names: dict[str, str] | None = None,
    local_ids: bool = False,
    exclude: Iterable[str] = (),
) -> list[GalleryPhoto]:
    """Gallery photos from ``training.datasets.Sample`` items (path, label, patient_id, age).

    A sample's patient id of the form ``photo:...`` is the reader's stand-in derived from the file
    path; it is replaced by ``anon-NNNNN`` (one per photo, as the reader treats them).
    """
    names = names or {}
    skip = {e.strip() for e in exclude}
    out: list[GalleryPhoto] = []
    anonymous = 0
    for s in samples:
        label = str(s.label).strip()
        if label in skip:
            continue
        did = disorder_id_for(label, local_ids)
        pid = str(s.patient_id)
        if pid.startswith("photo:") or not pid.strip():
            anonymous += 1
            pid = f"anon-{anonymous:05d}"
        name = names.get(did) or names.get(label) or did
        out.append(GalleryPhoto(s.path, did, name, pid, "data", None, s.age_months))
    if not out:
        raise DataError("no photos left to add (every label excluded, or no photos)")
    return out


def unrelated_photos(
    data: str | Path, samples: Sequence[Any] | None
) -> list[tuple[Path, float | None]]:
    """One photo per unrelated child: the first photo of each patient of ``samples`` (a labelled
    dataset), or every image under a plain folder (each counted as a child of its own)."""
    if samples is not None:
        seen: set[str] = set()
        out = []
        for s in samples:
            pid = str(s.patient_id)
            if pid in seen:
                continue
            seen.add(pid)
            out.append((Path(s.path), s.age_months))
        return out
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"{root.name}: not a folder or a CSV file")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and is_inside(p, root)
    )
    if not files:
        raise DataError(f"{root.name}: no photos")
    return [(p, None) for p in files]
