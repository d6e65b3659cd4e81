"""What face detection and quality checks produce: plain dataclasses, shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class QualityCheck:
    """One quality measurement of the detected face and whether it is within its limit."""

    name: str
    value: float
    unit: str
    limit: float
    comparison: str  # ">=" means value must be >= limit to pass; "<=" the opposite
    passed: bool
    hard: bool  # a hard failure makes every model result "cannot assess"
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "value": round(float(self.value), 4),
            "unit": self.unit,
            "limit": self.limit,
            "comparison": self.comparison,
            "pass": bool(self.passed),
            "hard": self.hard,
            "message": self.message,
        }


@dataclass
class FaceInfo:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in original-photo pixels
    landmarks: (
        np.ndarray
    )  # (5, 2): left eye, right eye, nose, left mouth, right mouth (image left/right)
    score: float

    @property
    def size(self) -> float:
        """Inter-ocular distance in photo pixels: the face-size measure used for limits."""
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def to_json(self, scale: float = 1.0) -> dict[str, Any]:
        """Coordinates divided by ``scale``: displayed-photo pixels -> full-resolution pixels."""
        return {
            "box": [round(float(v) / scale, 1) for v in self.box],
            "landmarks": [
                [round(float(x) / scale, 1), round(float(y) / scale, 1)] for x, y in self.landmarks
            ],
            "score": round(float(self.score), 4),
        }
