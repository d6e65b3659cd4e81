"""Compare models: one heatmap per model in a grid, each with its probabilities, under a header
that names the models in use.

Comparing needs two models or more; with fewer the header says so and links to the Models dialog,
so a user who sees a single map learns at once how to get more.
"""

from __future__ import annotations

from html import escape

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.explain.overlay import COLORMAPS, DEFAULT_COLORMAP, DEFAULT_OPACITY
from dysmorph_desk.gui.heatmap_view import ColourBar, heat_is_empty, looked_for, render_overlay
from dysmorph_desk.gui.help_window import help_link
from dysmorph_desk.gui.qtutil import ScaledImage
from dysmorph_desk.gui.results_view import FLAG_COLOR, status_badge
from dysmorph_desk.report.formatting import format_percent
from dysmorph_desk.screening.results import ScreeningResult

MODELS_LINK = "<a href='models'>Models…</a>"


def models_header(names: list[str], keys: str = "") -> str:
    """The header's rich text for the models in use (``names``); ``keys``: the Models shortcut."""
    shown = ", ".join(f"<b>{escape(n)}</b>" for n in names)
    link = MODELS_LINK + (f" ({escape(keys)})" if keys else "")
    if not names:
        return f"No model is on. Turn models on in {link}."
    if len(names) == 1:
        return (
            f"Only one model is on: {shown}. To compare heatmaps side by side, turn on more "
            f"in {link}."
        )
    return f"Comparing {len(names)} models: {shown}. {link}"


class ComparisonView(QWidget):
    """The header, then the grid; ``models_requested`` when the header's link is clicked."""

    models_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Model comparison")
        self.header = QLabel("")
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setAccessibleName("Models in use")
        self.header.linkActivated.connect(lambda _href: self.models_requested.emit())
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(help_link("heatmaps", "?"), 0, Qt.AlignmentFlag.AlignTop)
        self.area = QScrollArea()
        self.area.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.area, 1)
        self.models: list[str] = []
        self.cells: list[QWidget] = []
        self.colour_bar: ColourBar | None = None
        self.set_models([])
        self.set_result(None, DEFAULT_COLORMAP, DEFAULT_OPACITY)

    def set_models(self, names: list[str], keys: str = "") -> None:
        """The models in use (what the header lists, with a link to the Models dialog and its
        shortcut ``keys``; with fewer than two it says how to add more)."""
        self.models = list(names)
        self.header.setText(models_header(self.models, keys))

    def set_result(self, result: ScreeningResult | None, colormap: str, opacity: float) -> None:
        inner = QWidget()
        grid = QGridLayout(inner)
        self.cells = []
        self.colour_bar = None
        if result is None or not result.results:
            grid.addWidget(QLabel("Screen a photo to compare the models' heatmaps."), 0, 0)
            self.area.setWidget(inner)
            return
        n = len(result.results)
        cols = max(1, int(np.ceil(np.sqrt(n))))
        for i, model in enumerate(result.results):
            cell = QWidget()
            lay = QVBoxLayout(cell)
            head = QHBoxLayout()
            head.addWidget(QLabel(f"<b>{escape(model.model)}</b>"))
            head.addWidget(status_badge(model.card, model.bundle_sha256, result.case))
            head.addStretch(1)
            lay.addLayout(head)
            img = ScaledImage()
            img.setMinimumSize(160, 160)
            img.set_image(render_overlay(result, model, "aligned", colormap, opacity), "no image")
            lay.addWidget(img, 1)
            if not heat_is_empty(model.heatmap_aligned):
                said = looked_for(model)
                caption = QLabel(f"<i>{escape(said[0].upper() + said[1:])}</i>")
                caption.setWordWrap(True)  # never wider than the picture
                lay.addWidget(caption)
            if model.assessable and model.probabilities:
                text = "<br>".join(
                    f"{escape(model.class_names.get(c, c))}: <b>{escape(format_percent(p))}</b>"
                    for c, p in model.probabilities.items()
                )
                text += "<br>" + (
                    f"<b style='color:{FLAG_COLOR}'>flagged</b>" if model.flagged else "not flagged"
                )
            else:
                reason = escape(model.cannot_assess_reason or "")
                text = f"<span style='color:{FLAG_COLOR}'>Cannot assess: {reason}</span>"
            probs = QLabel(text)
            probs.setWordWrap(True)
            lay.addWidget(probs)
            grid.addWidget(cell, i // cols, i % cols)
            self.cells.append(cell)
        self.colour_bar = ColourBar(colormap if colormap in COLORMAPS else DEFAULT_COLORMAP)
        grid.addWidget(self.colour_bar, (n - 1) // cols + 1, 0, 1, cols)
        self.area.setWidget(inner)
