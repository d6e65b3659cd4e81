"""MTCNN face detection (facenet-pytorch) on a downscaled copy, mapped back to photo pixels.

Designed against the failure modes peers hit: MTCNN returns ``None`` for "no face" (never crash a
batch on it), and adult-trained detectors miss small children's faces (retry at a larger working
size before giving up, and use a permissive minimum face size at each scale).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from dysmorph_desk.faces.types import FaceInfo

log = logging.getLogger(__name__)


def _box(values: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in values)
    return x0, y0, x1, y1


@dataclass(frozen=True)
class DetectorSettings:
    detect_long_side: int = 480  # first pass: fast, finds faces that fill a good part of the frame
    retry_long_side: int = 1024  # second pass when the first finds nothing (small faces, children)
    first_min_face_px: int = 40  # first pass: a coarser image pyramid (~3x faster than 20)
    min_face_px: int = 20  # retry pass: MTCNN's minimum box side at the working scale
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    min_score: float = 0.90


class FaceDetector:
    """Thread-safe wrapper around facenet-pytorch's MTCNN. Imports torch lazily."""

    def __init__(self, settings: DetectorSettings | None = None, device: str = "cpu") -> None:
        self.settings = settings or DetectorSettings()
        self.device = device
        self._mtcnn: Any = None  # facenet_pytorch.MTCNN, built on first use
        self._lock = threading.Lock()

    def _model(self, min_face: int):
        if self._mtcnn is None:
            from facenet_pytorch import MTCNN

            self._mtcnn = MTCNN(
                keep_all=True,
                min_face_size=self.settings.min_face_px,
                thresholds=list(self.settings.thresholds),
                post_process=False,
                device=self.device,
            )
        mtcnn = self._mtcnn
        mtcnn.min_face_size = min_face
        return mtcnn

    def detect(self, rgb: np.ndarray) -> list[FaceInfo]:
        """All faces, largest first. An empty list means no face; never ``None``."""
        faces = self._detect_at(
            rgb, self.settings.detect_long_side, self.settings.first_min_face_px
        )
        if not faces:
            faces = self._detect_at(rgb, self.settings.retry_long_side, self.settings.min_face_px)
        return faces

    def _detect_at(self, rgb: np.ndarray, long_side: int, min_face: int) -> list[FaceInfo]:
        import torch

        h, w = rgb.shape[:2]
        factor = min(1.0, long_side / max(h, w))
        small = (
            rgb
            if factor >= 1.0
            else cv2.resize(
                rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA
            )
        )
        with self._lock, torch.inference_mode():
            boxes, probs, points = self._model(min_face).detect(
                np.ascontiguousarray(small), landmarks=True
            )
        if boxes is None or points is None:
            return []
        faces = []
        for box, prob, pts in zip(boxes, probs, points, strict=False):
            if prob is None or not np.isfinite(prob) or prob < self.settings.min_score:
                continue
            box = np.asarray(box, dtype=np.float64) / factor
            pts = np.asarray(pts, dtype=np.float64).reshape(5, 2) / factor
            if not np.all(np.isfinite(box)) or not np.all(np.isfinite(pts)):
                continue
            faces.append(FaceInfo(box=_box(box), landmarks=pts, score=float(prob)))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
