"""Quality checks of a detected face, reported with every result.

Limits (documented in docs/quality.md):
- ``face_size``: inter-ocular distance in full-resolution photo pixels. Below ``MIN_FACE_IOD_PX``
  (20 px) the photo is refused outright; below 40 px the models cannot assess (hard); the aligned
  224 px face puts the eyes 55 px apart (the template's 0.245 of the crop), so smaller faces are
  upsampled mush.
- ``blur``: variance of the Laplacian of the aligned 224 px face (grey, 0-255). Hard below 15.
- ``exposure``: mean brightness of the inner face (0-255) and the clipped fraction; soft.
- ``roll``: in-plane tilt of the eye line (degrees). Alignment undoes it: informational only.
- ``yaw`` / ``pitch``: out-of-plane rotation estimated from where the nose tip lies against a
  similarity fit of eyes and mouth to the canonical template (nose tip ~0.5 inter-ocular distances
  in front of the eye plane). Approximate; hard beyond 30 deg (yaw) / 35 deg (pitch).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dysmorph_desk.faces.align import TEMPLATE, apply_matrix, similarity_transform
from dysmorph_desk.faces.types import FaceInfo, QualityCheck

MIN_FACE_IOD_PX = 20.0
NOSE_DEPTH_IOD = 0.5


@dataclass(frozen=True)
class QualityLimits:
    min_iod_px: float = 40.0
    min_blur: float = 15.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    max_clipped: float = 0.25
    max_roll_deg: float = 45.0
    max_yaw_deg: float = 30.0
    max_pitch_deg: float = 35.0


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(roll, yaw, pitch) in degrees from five landmarks; see the module docstring."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eye_vec = lm[1] - lm[0]
    roll = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    ref = [0, 1, 3, 4]
    m = similarity_transform(lm[ref], TEMPLATE[ref])  # photo -> normalised template space
    nose = apply_matrix(m, lm[2:3])[0]
    iod = TEMPLATE[1, 0] - TEMPLATE[0, 0]
    dx, dy = (nose - TEMPLATE[2]) / iod
    yaw = float(np.degrees(np.arcsin(np.clip(dx / NOSE_DEPTH_IOD, -1, 1))))
    pitch = float(np.degrees(np.arcsin(np.clip(dy / NOSE_DEPTH_IOD, -1, 1))))
    return roll, yaw, pitch


def blur_score(aligned_rgb: np.ndarray) -> float:
    grey = cv2.cvtColor(aligned_rgb, cv2.COLOR_RGB2GRAY)
    if grey.shape[0] != 224:
        grey = cv2.resize(grey, (224, 224), interpolation=cv2.INTER_AREA)
    inner = grey[40:200, 40:184]
    return float(cv2.Laplacian(inner, cv2.CV_64F).var())


def exposure(aligned_rgb: np.ndarray) -> tuple[float, float]:
    """Mean brightness and the fraction of clipped (<=5 or >=250) pixels of the inner face."""
    s = aligned_rgb.shape[0]
    grey = cv2.cvtColor(aligned_rgb, cv2.COLOR_RGB2GRAY)[
        int(0.3 * s) : int(0.85 * s), int(0.25 * s) : int(0.75 * s)
    ]
    clipped = float(np.mean((grey <= 5) | (grey >= 250)))
    return float(grey.mean()), clipped


def assess_quality(
    face: FaceInfo, photo_scale: float, aligned_rgb: np.ndarray, limits: QualityLimits | None = None
) -> list[QualityCheck]:
    """All checks for one face. ``photo_scale``: decoded pixels per full-resolution pixel."""
    lim = limits or QualityLimits()
    iod = face.size / photo_scale
    blur = blur_score(aligned_rgb)
    bright, clipped = exposure(aligned_rgb)
    roll, yaw, pitch = head_pose(face.landmarks)
    return [
        QualityCheck(
            "face_size",
            iod,
            "px between eyes",
            lim.min_iod_px,
            ">=",
            iod >= lim.min_iod_px,
            True,
            "" if iod >= lim.min_iod_px else "face too small for screening",
        ),
        QualityCheck(
            "blur",
            blur,
            "Laplacian variance",
            lim.min_blur,
            ">=",
            blur >= lim.min_blur,
            True,
            "" if blur >= lim.min_blur else "face too blurred",
        ),
        QualityCheck(
            "brightness_low",
            bright,
            "mean grey level",
            lim.min_brightness,
            ">=",
            bright >= lim.min_brightness,
            False,
            "" if bright >= lim.min_brightness else "face too dark",
        ),
        QualityCheck(
            "brightness_high",
            bright,
            "mean grey level",
            lim.max_brightness,
            "<=",
            bright <= lim.max_brightness,
            False,
            "" if bright <= lim.max_brightness else "face over-exposed",
        ),
        QualityCheck(
            "clipped",
            clipped,
            "fraction of pixels",
            lim.max_clipped,
            "<=",
            clipped <= lim.max_clipped,
            False,
            "" if clipped <= lim.max_clipped else "many clipped pixels (too dark or too bright)",
        ),
        QualityCheck(
            "roll",
            abs(roll),
            "degrees",
            lim.max_roll_deg,
            "<=",
            abs(roll) <= lim.max_roll_deg,
            False,
            ""
            if abs(roll) <= lim.max_roll_deg
            else "head strongly tilted (corrected by alignment)",
        ),
        QualityCheck(
            "yaw",
            abs(yaw),
            "degrees (approx.)",
            lim.max_yaw_deg,
            "<=",
            abs(yaw) <= lim.max_yaw_deg,
            True,
            "" if abs(yaw) <= lim.max_yaw_deg else "head turned too far sideways",
        ),
        QualityCheck(
            "pitch",
            abs(pitch),
            "degrees (approx.)",
            lim.max_pitch_deg,
            "<=",
            abs(pitch) <= lim.max_pitch_deg,
            True,
            "" if abs(pitch) <= lim.max_pitch_deg else "head tilted too far up or down",
        ),
    ]
