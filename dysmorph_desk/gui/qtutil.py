"""Small Qt helpers: numpy <-> QImage, icons from ``resources/icons``, the UI-stall heartbeat,
a label that scales its image."""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.utils import paths
from dysmorph_desk.utils.resources import resource


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB (or grey) uint8 array as a QImage that owns its pixels."""
    arr = np.ascontiguousarray(
        rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2), dtype=np.uint8
    )
    h, w = arr.shape[:2]
    if arr.shape[2] == 4:
        return QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(rgb))


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage (any format) as an RGB uint8 array (a copy)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


@cache
def icon(name: str) -> QIcon:
    """An SVG icon from ``resources/icons`` (vector: sharp at any DPI); empty if missing."""
    node = resource("icons", f"{name}.svg")
    if not node.is_file():
        return QIcon()
    if isinstance(node, Path):
        return QIcon(str(node))
    # Zipped install: QIcon loads lazily from a path, so keep a copy in the cache folder.
    copy = paths.cache_dir() / "icons" / f"{name}.svg"
    if not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(node.read_bytes())
    return QIcon(str(copy))


class StallMonitor(QObject):
    """A heartbeat timer: the largest gap between ticks beyond the interval is the worst UI stall."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval = interval_ms / 1000.0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self.worst_s = 0.0
        self._last: float | None = None

    def start(self) -> None:
        self.reset()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def reset(self) -> None:
        self.worst_s = 0.0
        self._last = time.perf_counter()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.worst_s = max(self.worst_s, now - self._last - self.interval)
        self._last = now

    @property
    def worst_ms(self) -> float:
        return 1000.0 * self.worst_s


class ScaledImage(QLabel):
    """A label that shows an image scaled to fit, keeping its aspect ratio, at any size."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._source: QPixmap | None = None

    def set_image(self, rgb: np.ndarray | None, text: str = "") -> None:
        self._source = None if rgb is None else to_pixmap(rgb)
        if self._source is None:
            self.clear()
            self.setText(text)
        self._rescale()

    def source_pixmap(self) -> QPixmap | None:
        return self._source

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source is not None and not self._source.isNull():
            dpr = self.devicePixelRatioF()
            pm = self._source.scaled(
                self.size() * dpr,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            pm.setDevicePixelRatio(dpr)
            self.setPixmap(pm)
