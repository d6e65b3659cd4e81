"""A probability bar whose percentage is always legible.

Qt's own progress bar centres its text over the whole bar, so a label such as "45.7%" straddles
the edge of the fill and half of it disappears into the fill's colour ("4$.7"). This bar places
the label wholly on one side of the edge: on the fill when it is wide enough, just past it on the
track otherwise, each time in a colour chosen for that background with a contrast ratio of at
least 7:1 (WCAG AAA), whatever the platform's style or palette.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QProgressBar, QWidget

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.report.formatting import format_percent

FILL = QColor("#1B4F8A")  # dark blue: white on it is 8.5:1
TRACK = QColor("#ECEFF3")  # light grey: near-black on it is 16:1
BORDER = QColor("#5F6B7A")
TEXT_ON_FILL = QColor("#FFFFFF")
TEXT_ON_TRACK = QColor("#111111")
PAD = 4  # pixels between the label and the fill's edge or the bar's end
WIDEST_LABEL = ">99.9%"  # the longest text ``format_percent`` gives a probability


def _linear(channel: float) -> float:
    c = channel / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: QColor) -> float:
    """Relative luminance (WCAG 2): 0 for black, 1 for white."""
    r, g, b = (_linear(v) for v in (color.red(), color.green(), color.blue()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class LabelPlace:
    """Where the label goes: its left edge, whether it sits on the fill, and its colours."""

    x: int
    on_fill: bool

    @property
    def color(self) -> QColor:
        return TEXT_ON_FILL if self.on_fill else TEXT_ON_TRACK

    @property
    def background(self) -> QColor:
        return FILL if self.on_fill else TRACK


def place_label(width: int, fill: int, text_width: int) -> LabelPlace:
    """Put a ``text_width``-pixel label on a ``width``-pixel bar filled ``fill`` pixels.

    On the fill (right-aligned, ``PAD`` before the edge) when the fill holds it with ``PAD`` on
    both sides; otherwise just past the edge on the track. A bar at least
    ``2 * (text_width + 2 * PAD)`` wide (the bar's minimum) always has room on one side.
    """
    if fill >= text_width + 2 * PAD:
        return LabelPlace(fill - PAD - text_width, True)
    return LabelPlace(min(fill + PAD, max(0, width - PAD - text_width)), False)


class ProbabilityBar(QProgressBar):
    """A 0-1 probability as a bar with its percentage (``format_percent``: "<0.1%", ">99.9%").

    Still a ``QProgressBar`` (range 0-1000), so screen readers announce it as one and its
    ``value()``/``text()`` keep their meaning.
    """

    def __init__(self, probability: float = 0.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 1000)
        self.setTextVisible(True)
        self.label = ""
        self.set_probability(probability)

    def set_probability(self, probability: float) -> None:
        self.probability = min(1.0, max(0.0, float(probability)))
        self.label = format_percent(self.probability)
        self.setValue(round(self.probability * 1000))
        self.setFormat(self.label)  # "%" only ends the label: no "%p"/"%v" code to expand
        self.update()

    def text(self) -> str:  # the label as shown (QProgressBar would expand "%" codes)
        return self.label

    def _text_width(self, text: str) -> int:
        return self.fontMetrics().horizontalAdvance(text)

    def minimumSizeHint(self) -> QSize:
        widest = self._text_width(WIDEST_LABEL)
        return QSize(2 * (widest + 2 * PAD) + 2, self.fontMetrics().height() + 6)

    def sizeHint(self) -> QSize:
        hint = self.minimumSizeHint()
        return QSize(max(hint.width(), 160), hint.height())

    def fill_width(self) -> int:
        """Pixels of the inner width the fill covers (rounded, never past the end)."""
        inner = max(0, self.width() - 2)
        return min(inner, round(inner * self.probability))

    def label_place(self) -> LabelPlace:
        return place_label(
            max(0, self.width() - 2), self.fill_width(), self._text_width(self.label)
        )

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        outer = self.rect().adjusted(0, 0, -1, -1)
        painter.setPen(QPen(BORDER))
        painter.setBrush(TRACK)
        painter.drawRect(outer)
        inner = self.rect().adjusted(1, 1, -1, -1)
        fill = self.fill_width()
        if fill > 0:
            painter.fillRect(QRect(inner.left(), inner.top(), fill, inner.height()), FILL)
        place = self.label_place()
        painter.setPen(place.color)
        box = QRect(
            inner.left() + place.x, inner.top(), self._text_width(self.label), inner.height()
        )
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), self.label)
        painter.end()
