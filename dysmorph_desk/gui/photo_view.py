"""The photo with its detected faces: boxes, landmarks, choosing a face by clicking it, and placing
the five landmarks by hand when detection fails."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from dysmorph_desk.faces.types import FaceInfo
from dysmorph_desk.gui.qtutil import to_pixmap

# Image left/right, in the order the core expects them.
LANDMARK_NAMES = (
    "eye on the left of the picture",
    "eye on the right of the picture",
    "nose tip",
    "mouth corner on the left",
    "mouth corner on the right",
)
EMPTY_TEXT = (
    "Open a photo (Ctrl+O), paste one (Ctrl+V), drop a file here,\nor capture one with the camera."
)


class PhotoView(QWidget):
    face_clicked = Signal(int)  # 1 = largest face
    landmarks_placed = Signal(object)  # (5, 2) float array, displayed-photo pixels
    landmark_step = Signal(int)  # points placed so far (0..5)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 200)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Photo")
        self.setToolTip("The photo; click a face to screen it")
        self._pixmap: QPixmap | None = None
        self._size = (0, 0)
        self.faces: list[FaceInfo] = []
        self.selected = 0  # 1-based; 0 = none
        self.manual_points: list[tuple[float, float]] = []
        self.placing = False
        self._target = QRectF()

    def sizeHint(self) -> QSize:
        return QSize(640, 520)

    # -- content -----------------------------------------------------------------------------------

    def set_photo(self, rgb: np.ndarray | None) -> None:
        self._pixmap = None if rgb is None else to_pixmap(rgb)
        self._size = (0, 0) if rgb is None else (rgb.shape[1], rgb.shape[0])
        self.faces, self.selected = [], 0
        self.cancel_landmarks()
        self.update()

    def has_photo(self) -> bool:
        return self._pixmap is not None

    def set_faces(self, faces: list[FaceInfo], selected: int = 1) -> None:
        self.faces = list(faces)
        self.selected = selected if faces else 0
        self.update()

    def select(self, index: int) -> None:
        self.selected = index
        self.update()

    # -- landmarks by hand -------------------------------------------------------------------------

    def start_landmarks(self) -> None:
        self.placing = self._pixmap is not None
        self.manual_points = []
        self.setCursor(Qt.CursorShape.CrossCursor if self.placing else Qt.CursorShape.ArrowCursor)
        self.landmark_step.emit(0)
        self.update()

    def undo_landmark(self) -> None:
        if self.placing and self.manual_points:
            self.manual_points.pop()
            self.landmark_step.emit(len(self.manual_points))
            self.update()

    def cancel_landmarks(self) -> None:
        self.placing = False
        self.manual_points = []
        self.unsetCursor()
        self.update()

    def next_landmark_name(self) -> str:
        n = len(self.manual_points)
        return LANDMARK_NAMES[n] if n < len(LANDMARK_NAMES) else ""

    # -- geometry ----------------------------------------------------------------------------------

    def _layout(self) -> QRectF:
        w, h = self._size
        if not w or not h:
            return QRectF()
        scale = min(self.width() / w, self.height() / h)
        tw, th = w * scale, h * scale
        return QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def to_image(self, pos: QPointF) -> tuple[float, float] | None:
        t = self._layout()
        if t.isEmpty() or not t.contains(pos):
            return None
        s = t.width() / self._size[0]
        return ((pos.x() - t.x()) / s, (pos.y() - t.y()) / s)

    def to_widget(self, x: float, y: float) -> QPointF:
        t = self._layout()
        s = t.width() / self._size[0] if self._size[0] else 1.0
        return QPointF(t.x() + x * s, t.y() + y * s)

    def face_at(self, x: float, y: float) -> int:
        """1-based index of the smallest face box containing (x, y) in image pixels; 0 if none."""
        hits = [
            (f.area, i + 1)
            for i, f in enumerate(self.faces)
            if f.box[0] <= x <= f.box[2] and f.box[1] <= y <= f.box[3]
        ]
        return min(hits)[1] if hits else 0

    # -- events ------------------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        pt = self.to_image(event.position())
        if pt is None:
            return
        if self.placing:
            self.manual_points.append(pt)
            self.landmark_step.emit(len(self.manual_points))
            if len(self.manual_points) == len(LANDMARK_NAMES):
                points = np.asarray(self.manual_points, dtype=np.float64)
                self.placing = False
                self.unsetCursor()
                self.landmarks_placed.emit(points)
            self.update()
            return
        index = self.face_at(*pt)
        if index and index != self.selected:
            self.face_clicked.emit(index)

    def keyPressEvent(self, event) -> None:
        if self.placing and event.key() == Qt.Key.Key_Escape:
            self.cancel_landmarks()
            self.landmark_step.emit(-1)
            return
        if self.placing and event.key() == Qt.Key.Key_Backspace:
            self.undo_landmark()
            return
        if (
            self.faces
            and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_N)
            and event.modifiers() == Qt.KeyboardModifier.AltModifier
        ):
            self.face_clicked.emit(self.selected % len(self.faces) + 1)
            return
        super().keyPressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._pixmap is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_TEXT)
            return
        target = self._layout()
        painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        for i, face in enumerate(self.faces, start=1):
            chosen = i == self.selected
            color = QColor("#00C853") if chosen else QColor("#FFD600")
            painter.setPen(QPen(color, 3 if chosen else 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            tl, br = (
                self.to_widget(face.box[0], face.box[1]),
                self.to_widget(face.box[2], face.box[3]),
            )
            painter.drawRect(QRectF(tl, br))
            if len(self.faces) > 1:
                painter.drawText(tl + QPointF(4, -4), f"{i}")
            if chosen:
                painter.setBrush(color)
                for x, y in face.landmarks:
                    painter.drawEllipse(self.to_widget(x, y), 3, 3)
        if self.manual_points or self.placing:
            painter.setPen(QPen(QColor("#2962FF"), 2))
            painter.setBrush(QColor("#2962FF"))
            for n, (x, y) in enumerate(self.manual_points, start=1):
                c = self.to_widget(x, y)
                painter.drawEllipse(c, 4, 4)
                painter.drawText(c + QPointF(6, -6), str(n))
        if self.placing:
            painter.setPen(Qt.GlobalColor.white)
            painter.fillRect(QRectF(0, 0, self.width(), 28), QColor(0, 0, 0, 170))
            painter.drawText(
                QRectF(8, 0, self.width() - 16, 28),
                Qt.AlignmentFlag.AlignVCenter,
                f"Click the {self.next_landmark_name()} ({len(self.manual_points) + 1} of 5)"
                " — Backspace undoes, Esc cancels",
            )
