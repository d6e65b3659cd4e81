"""MTCNN face detection on a downscaled copy, mapped back to photo pixels.

The cascade is ``faces.mtcnn`` on ONNX Runtime (facenet-pytorch's weights and semantics, no torch).
Designed against the failure modes peers hit: "no face" is an empty list (never crash a batch on
it), and adult-trained detectors miss small children's faces (retry at a larger working size before
giving up, and use a permissive minimum face size at each scale).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from dysmorph_desk.faces.mtcnn import MTCNN
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
    """Thread-safe MTCNN face detector (ONNX Runtime sessions are created on first use).

    ``device`` "cuda"/"cuda:N" uses ONNX Runtime's CUDA provider where it is installed; anything
    else runs on the CPU. ``threads`` is ONNX Runtime's intra-op thread count (default 1-2).
    """

    def __init__(
        self,
        settings: DetectorSettings | None = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.settings = settings or DetectorSettings()
        self.device = device
        self._mtcnn = MTCNN(thresholds=self.settings.thresholds, threads=threads, device=device)

    def detect(self, rgb: np.ndarray) -> list[FaceInfo]:
        """All faces, largest first. An empty list means no face; never ``None``."""
        faces = self._detect_at(
            rgb, self.settings.detect_long_side, self.settings.first_min_face_px
        )
        if not faces:
            faces = self._detect_at(rgb, self.settings.retry_long_side, self.settings.min_face_px)
        return faces

    def _detect_at(self, rgb: np.ndarray, long_side: int, min_face: int) -> list[FaceInfo]:
        h, w = rgb.shape[:2]
        factor = min(1.0, long_side / max(h, w))
        small = (
            rgb
            if factor >= 1.0
            else cv2.resize(
                rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA
            )
        )
        found = self._mtcnn.detect(small, min_face)
        faces = []
        for box, prob, pts in zip(found.boxes, found.scores, found.landmarks, strict=True):
            if not np.isfinite(prob) or prob < self.settings.min_score:
                continue
            box = np.asarray(box, dtype=np.float64) / factor
            pts = np.asarray(pts, dtype=np.float64).reshape(5, 2) / factor
            if not np.all(np.isfinite(box)) or not np.all(np.isfinite(pts)):
                continue
            faces.append(FaceInfo(box=_box(box), landmarks=pts, score=float(prob)))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
