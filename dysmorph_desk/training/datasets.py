"""Reading labelled photo collections: a labels.csv folder, a CSV file, or class-per-folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dysmorph_desk.errors import DataError
from dysmorph_desk.utils.inputs import is_inside, read_csv_rows

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str
    patient_id: str
    age_months: float | None = None
    sex: str | None = None
    ethnicity: str | None = None


def read_dataset(data: str | Path, data_root: str | Path | None = None) -> list[Sample]:
    """The labelled photos of a dataset; every photo path must lie inside the data folder.

    A CSV may name photos by relative or absolute paths, but each must resolve (symlinks
    included) inside ``data_root`` — by default the folder that holds the CSV, or the class-folder
    tree itself — so a shared labels file cannot make training read, and list in its metrics,
    files from anywhere on the machine (``/etc/shadow``).

    Args:
        data: a folder with ``labels.csv``, a CSV file, or a folder of class folders.
        data_root: the folder photo paths must stay inside (``--data-root``).

    Raises:
        DataError: unreadable CSV, missing columns, or a path outside the data root (exit 3).
    """
    data = Path(data)
    if data.is_file() and data.suffix.lower() == ".csv":
        root = Path(data_root) if data_root is not None else data.parent
        return _read_csv(data, data.parent, root)
    if data.is_dir() and (data / "labels.csv").is_file():
        root = Path(data_root) if data_root is not None else data
        return _read_csv(data / "labels.csv", data, root)
    if data.is_dir():
        return _read_folders(data, Path(data_root) if data_root is not None else data)
    raise DataError(f"{data}: not a folder or a CSV file")


def _float(value: str | None, where: str = "") -> float | None:
    if value is None or not value.strip():
        return None
    try:
        age = float(value)
    except ValueError:
        raise DataError(f"{where}age_months {value!r} is not a number") from None
    if not 0 <= age < 12 * 120:
        raise DataError(f"{where}age_months {value!r} is not an age in months")
    return age


def _read_csv(csv_path: Path, root: Path, data_root: Path) -> list[Sample]:
    rows = read_csv_rows(csv_path)
    if not rows:
        raise DataError(f"{csv_path.name}: no rows")
    if not {"path", "label"} <= set(rows[0]):
        raise DataError(
            f"{csv_path.name}: needs columns path and label (optional: patient_id, age_months, sex, ethnicity)"
        )
    samples = []
    for n, row in enumerate(rows, start=2):
        if not row.get("path") or not row.get("label"):
            raise DataError(f"{csv_path.name}, line {n}: empty path or label")
        path = Path(row["path"])
        path = path if path.is_absolute() else root / path
        if not is_inside(path, data_root):
            raise DataError(
                f"{csv_path.name}, line {n}: the photo path leads outside the data folder "
                f"({data_root}); move the photos there or name their folder with --data-root"
            )
        pid = (row.get("patient_id") or "").strip() or f"photo:{row['path'].strip()}"
        samples.append(
            Sample(
                path,
                row["label"].strip(),
                pid,
                _float(row.get("age_months"), f"{csv_path.name}, line {n}: "),
                (row.get("sex") or "").strip() or None,
                (row.get("ethnicity") or "").strip() or None,
            )
        )
    if not any(row.get("patient_id") for row in rows):
        log.warning("no patient_id column: every photo is treated as a different patient")
    return samples


def _read_folders(root: Path, data_root: Path) -> list[Sample]:
    samples = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(folder.rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file():
                if not is_inside(f, data_root):
                    log.warning("skipping a photo linked from outside the data folder")
                    continue
                samples.append(Sample(f, folder.name, f"photo:{folder.name}/{f.name}"))
    if not samples:
        raise DataError(f"{root}: no class folders with images (or a labels.csv)")
    log.warning(
        "class-per-folder data has no patient ids: every photo is treated as a different patient"
    )
    return samples
