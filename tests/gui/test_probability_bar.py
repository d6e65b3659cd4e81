"""Probability bars: the percentage never straddles the fill's edge and always has AAA contrast,
from 0 % to 100 %, at the widths the results panel gives and at the bar's minimum."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

from dysmorph_desk.gui.probability_bar import (
    BORDER,
    FILL,
    TRACK,
    ProbabilityBar,
    contrast,
    place_label,
)
from dysmorph_desk.gui.qtutil import from_qimage

PERCENTS = [*range(0, 101), 0.05, 99.95]  # every whole percent, and the "<0.1%"/">99.9%" cases


def test_contrast_is_the_wcag_ratio():
    assert contrast(QColor("black"), QColor("white")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("#777777")) == pytest.approx(1.0)


@pytest.mark.parametrize("width", [120, 240, 480])
def test_label_is_wholly_on_one_side_of_the_edge(width):
    text = 44  # pixels: "45.7%" in a common UI font
    for pct in PERCENTS:
        fill = round(width * pct / 100)
        place = place_label(width, fill, text)
        if place.on_fill:
            assert place.x >= 0 and place.x + text <= fill, pct
        else:
            assert place.x >= fill and place.x + text <= width, pct
        assert contrast(place.color, place.background) >= 7.0, pct  # WCAG AAA


def _ink_columns(bar: ProbabilityBar) -> np.ndarray:
    """Columns of the painted bar holding text: pixels that are neither fill, track nor border."""
    img = from_qimage(bar.grab().toImage()).astype(int)
    plain = [np.array([c.red(), c.green(), c.blue()]) for c in (FILL, TRACK, BORDER)]
    other = np.all([np.abs(img - c).sum(axis=2) > 30 for c in plain], axis=0)
    return np.flatnonzero(other.any(axis=0))


def test_painted_text_never_crosses_the_fill_edge(qtbot):
    bar = ProbabilityBar()
    qtbot.addWidget(bar)
    bar.resize(bar.minimumSizeHint().width(), bar.minimumSizeHint().height())
    bar.show()
    for width in (bar.minimumSizeHint().width(), 260):
        bar.resize(width, bar.height())
        for pct in PERCENTS:
            bar.set_probability(pct / 100)
            ink = _ink_columns(bar)
            assert ink.size, (width, pct)  # the label is painted
            edge = 1 + bar.fill_width()  # the first column after the fill (1: the border)
            place = bar.label_place()
            if place.on_fill:
                assert ink.max() < edge, (width, pct, bar.text())
            else:
                assert ink.min() >= edge, (width, pct, bar.text())
                assert ink.max() < bar.width() - 1, (width, pct)  # inside the bar's end


def test_labels_use_the_reports_percent_format(qtbot):
    bar = ProbabilityBar(0.457)
    qtbot.addWidget(bar)
    assert bar.text() == "45.7%" and bar.value() == 457
    bar.set_probability(0.0004)
    assert bar.text() == "<0.1%"
    bar.set_probability(0.9996)
    assert bar.text() == ">99.9%" and bar.value() == 1000
    bar.set_probability(1.0)
    assert bar.text() == "100%"
