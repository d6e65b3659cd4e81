"""A labelled photo collection turned into aligned faces, labels and patient groups (once, cached)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dysmorph_desk.errors import DataError, InputRefused
from dysmorph_desk.training.datasets import Sample

log = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclass
class FaceSet:
    faces: np.ndarray  # uint8 (N, S, S, 3), aligned by the engine's template
    samples: list[Sample]  # the photos that had a usable face, in the order of ``faces``
    classes: list[str]
    positive: list[str]
    skipped: list[tuple[Path, str]]

    @property
    def y(self) -> np.ndarray:
        return np.array([self.classes.index(s.label) for s in self.samples], dtype=int)

    @property
    def groups(self) -> list[str]:
        return [s.patient_id for s in self.samples]

    @property
    def positive_idx(self) -> list[int]:
        return [self.classes.index(p) for p in self.positive]

    @property
    def is_positive(self) -> np.ndarray:
        return np.isin(self.y, self.positive_idx)

    def patients_per_class(self) -> dict[str, int]:
        y, groups = self.y, self.groups
        return {
            c: len({g for g, yy in zip(groups, y, strict=False) if yy == i})
            for i, c in enumerate(self.classes)
        }

    def summary(self) -> str:
        per = self.patients_per_class()
        return (
            f"{len(self.samples)} photos of {len(set(self.groups))} patients ("
            + ", ".join(f"{c}: {n}" for c, n in per.items())
            + " patients)"
        )


def resolve_classes(
    samples: list[Sample], positive: tuple[str, ...] | list[str]
) -> tuple[list[str], list[str]]:
    """Sorted class ids and the syndromic ones (``--positive``; default: all but ``control``)."""
    classes = sorted({s.label for s in samples})
    if len(classes) < 2:
        raise DataError(f"need at least 2 classes, found {classes}")
    pos = list(positive) or ([c for c in classes if c != "control"] if "control" in classes else [])
    if not pos:
        raise DataError(
            f"name the syndromic class(es) with --positive (classes: {', '.join(classes)})"
        )
    unknown = [p for p in pos if p not in classes]
    if unknown:
        raise DataError(
            f"--positive {', '.join(unknown)} is not a class of the data (classes: {', '.join(classes)})"
        )
    if len(pos) == len(classes):
        raise DataError(
            "every class is marked syndromic: at least one class must be the comparison group"
        )
    return classes, pos


def prepare_faces(samples: list[Sample], size: int, say: Say | None = None):
    """Aligned faces for every sample that has one (cached); the others listed with the reason."""
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.training.facecache import aligned_face_for

    detector = FaceDetector()
    faces, kept, skipped = [], [], []
    for i, s in enumerate(samples):
        try:
            faces.append(aligned_face_for(s.path, size, detector))
            kept.append(s)
        except (InputRefused, OSError) as exc:
            skipped.append((s.path, str(exc)))
        except Exception as exc:  # a bug with one photo must not end a run of hours
            log.error("internal error aligning a training photo", exc_info=True)
            skipped.append((s.path, f"internal error ({exc.__class__.__name__}); see the log"))
        if say and (i + 1) % 100 == 0:
            say(f"aligned {i + 1}/{len(samples)} photos")
    return (np.stack(faces) if faces else np.zeros((0, size, size, 3), np.uint8)), kept, skipped


def merge_duplicate_photos(samples: list[Sample]) -> tuple[list[Sample], int]:
    """Give one patient id to ids that share a byte-identical photo (public sets carry duplicates):
    splitting by patient then keeps the copies on one side. Returns the samples and how many ids merged."""
    import hashlib
    from dataclasses import replace

    from dysmorph_desk.utils.inputs import open_regular

    parent: dict[str, str] = {}

    def root(g: str) -> str:
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    first_by_hash: dict[str, str] = {}
    for s in samples:
        try:  # bounded: a FIFO or /dev/zero in the data is refused, not read forever
            digest = hashlib.sha256(open_regular(s.path)).hexdigest()
        except (InputRefused, OSError):
            continue
        other = first_by_hash.setdefault(digest, s.patient_id)
        a, b = root(other), root(s.patient_id)
        if a != b:
            parent[max(a, b)] = min(a, b)
    if not parent:
        return samples, 0
    return [replace(s, patient_id=root(s.patient_id)) for s in samples], len(parent)


def load_faceset(samples: list[Sample], size: int, positive=(), say: Say | None = None) -> FaceSet:
    """Align (or read from the cache) every photo; photos without a usable face are listed, never
    silently dropped."""
    say = say or (lambda m: None)
    classes, pos = resolve_classes(samples, positive)
    say(f"aligning {len(samples)} photos at {size} px (cached after the first run)")
    faces, kept, skipped = prepare_faces(samples, size, say)
    for path, reason in skipped:
        say(f"skipped {path.name}: {reason}")
    if skipped:
        say(
            f"{len(skipped)} of {len(samples)} photos had no usable face and are left out (listed in metrics.json)"
        )
    kept, merged = merge_duplicate_photos(kept)
    if merged:
        say(
            f"{merged} patient id(s) share identical photo files with another id; they are kept together "
            f"in every split (so a duplicate never sits on both sides)"
        )
    fs = FaceSet(faces, kept, classes, pos, skipped)
    missing = [c for c, n in fs.patients_per_class().items() if n == 0]
    if missing:
        raise DataError(f"no usable photo left in class(es) {', '.join(missing)}")
    return fs
