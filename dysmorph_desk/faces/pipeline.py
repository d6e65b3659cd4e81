"""The one face pipeline: detected faces -> the chosen face -> aligned -> quality checks.

Screening, the webcam preview hint and the training face cache all call :func:`detect_and_align`,
so all three apply the same definition of a usable face (docs/quality.md):

- no face, or a face index that does not exist: refused (``FaceRefused``);
- a face under ``MIN_FACE_IOD_PX`` (20 px between the eyes in the full-resolution photo): refused,
  there is nothing to align;
- otherwise the face is aligned at 224 px (the size the quality limits are defined at) and every
  check of ``faces.quality`` is run. *Hard* failures (too small to assess, blurred, turned too far)
  make screening say "cannot assess"; soft ones become warnings. The caller decides what a hard
  failure means for it: screening reports it per model, the preview turns it into a hint, training
  can choose which checks refuse a training photo.

Stages are plain functions on numpy arrays; no torch here (the detector is passed in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from dysmorph_desk.errors import FaceRefused
from dysmorph_desk.faces.align import AlignedFace, align_face
from dysmorph_desk.faces.quality import MIN_FACE_IOD_PX, QualityLimits, assess_quality
from dysmorph_desk.faces.types import FaceInfo, QualityCheck

QUALITY_SIZE = 224  # the aligned size the quality limits are defined at

NO_FACE = "no face found"
NO_FACE_HINT = " (place the five landmarks by hand in the app, or use a frontal photo)"


class Detector(Protocol):
    """Anything that finds faces in an RGB image, largest first (``faces.detect.FaceDetector``)."""

    def detect(self, rgb: np.ndarray) -> list[FaceInfo]: ...


@dataclass
class FaceFinding:
    """What the pipeline found: every face, the chosen one aligned, and its quality checks."""

    faces: list[FaceInfo]  # all detected faces, largest first (empty with hand-placed landmarks)
    face: FaceInfo  # the chosen face, in the pixels of the image given
    face_index: int  # 1-based
    aligned: AlignedFace  # at QUALITY_SIZE
    quality: list[QualityCheck]
    manual: bool = False  # landmarks placed by hand
    warnings: list[str] = field(default_factory=list)

    @property
    def hard_failures(self) -> list[QualityCheck]:
        return [q for q in self.quality if not q.passed and q.hard]

    @property
    def soft_failures(self) -> list[QualityCheck]:
        return [q for q in self.quality if not q.passed and not q.hard]

    @property
    def usable(self) -> bool:
        """True when no hard check failed: the models can assess this face."""
        return not self.hard_failures

    def failed(self, names: Sequence[str]) -> list[QualityCheck]:
        """The failed checks among ``names`` (e.g. the ones a training run treats as hard)."""
        return [q for q in self.quality if not q.passed and q.name in names]


def face_from_landmarks(landmarks: np.ndarray) -> FaceInfo:
    """A face from five hand-placed landmarks (image pixels): a box padded around them."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    pad = 0.6 * float(np.linalg.norm(lm[1] - lm[0]))
    return FaceInfo(box=(x0 - pad, y0 - pad, x1 + pad, y1 + pad), landmarks=lm, score=float("nan"))


def detect_and_align(
    rgb: np.ndarray,
    detector: Detector | None = None,
    *,
    scale: float = 1.0,
    faces: list[FaceInfo] | None = None,
    face_index: int = 1,
    manual_landmarks: np.ndarray | None = None,
    limits: QualityLimits | None = None,
    no_face_hint: str = NO_FACE_HINT,
) -> FaceFinding:
    """Find, choose, align and check one face: the one definition of a usable face.

    Args:
        rgb: the (possibly downscaled) photo as uint8 RGB.
        detector: finds faces when neither ``faces`` nor ``manual_landmarks`` is given.
        scale: pixels of ``rgb`` per full-resolution photo pixel (a decoded JPEG may be smaller
            than the file); face-size limits are in full-resolution pixels.
        faces: faces already detected on ``rgb`` (largest first), to skip detection.
        face_index: which face, 1 = the largest.
        manual_landmarks: (5, 2) landmarks in full-resolution photo pixels, placed by hand.
        limits: quality limits (defaults: ``QualityLimits()``).
        no_face_hint: appended to the "no face found" reason (what the user can do about it).

    Returns:
        A ``FaceFinding``; hard quality failures are in it, not raised.

    Raises:
        FaceRefused: no face, no such face index, or a face too small to align.

    Example:
        >>> finding = detect_and_align(image.rgb, FaceDetector(), scale=image.scale)  # doctest: +SKIP
        >>> finding.usable, [q.name for q in finding.hard_failures]  # doctest: +SKIP
    """
    warnings: list[str] = []
    manual = manual_landmarks is not None
    if manual:
        faces = [face_from_landmarks(np.asarray(manual_landmarks, dtype=np.float64) * scale)]
        warnings.append("landmarks placed by hand (face detection not used)")
    elif faces is None:
        if detector is None:
            raise ValueError("detect_and_align needs a detector, faces or manual landmarks")
        faces = detector.detect(rgb)
    if not faces:
        raise FaceRefused(NO_FACE + no_face_hint)
    if not 1 <= face_index <= len(faces):
        raise FaceRefused(f"face {face_index} was asked for, but {len(faces)} face(s) were found")
    face = faces[face_index - 1]
    iod_full = face.size / scale
    if iod_full < MIN_FACE_IOD_PX:
        raise FaceRefused(
            f"face too small to screen ({iod_full:.0f} px between the eyes; "
            f"the minimum is {MIN_FACE_IOD_PX:.0f})"
        )
    if len(faces) > 1:
        which = "the largest" if face_index == 1 else f"number {face_index} by size"
        warnings.append(
            f"{len(faces)} faces detected; screened {which} (choose another with --face N)"
        )
    aligned = align_face(rgb, face.landmarks, QUALITY_SIZE)
    quality = assess_quality(face, scale, aligned.image, limits)
    return FaceFinding(
        faces=[] if manual else list(faces),
        face=face,
        face_index=face_index,
        aligned=aligned,
        quality=quality,
        manual=manual,
        warnings=warnings,
    )
