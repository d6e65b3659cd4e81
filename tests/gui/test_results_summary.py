"""The results panel leads with the summary; the heatmap view has its colour bar and says which
class its map explains (by default the syndromic one of a binary model)."""

from __future__ import annotations

import numpy as np
import pytest

from dysmorph_desk.bundles.format import resolve_bundle
from dysmorph_desk.explain.overlay import COLOUR_BAR_LABEL
from dysmorph_desk.screening.results import CaseInfo, ModelResult, ScreeningResult

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def card():
    return resolve_bundle("demo-mobilenetv2").card  # header only: cheap


def _model(card, name: str, synd: float) -> ModelResult:
    syn = card.class_ids[card.syndromic_indices[0]]
    other = next(c for c in card.class_ids if c != syn)
    g = np.linspace(0, 1, 224, dtype=np.float32)
    return ModelResult(
        name,
        card,
        "b" * 64,
        {syn: synd, other: 1 - synd},
        syn if synd > 0.5 else other,
        synd,
        synd >= card.threshold,
        True,
        cam_method="gradcam",
        cam_target=syn,
        aligned_face=np.full((224, 224, 3), 150, np.uint8),
        heatmap_aligned=np.outer(g, g),
    )


def _result(*models: ModelResult) -> ScreeningResult:
    return ScreeningResult(
        "a" * 64,
        1,
        1,
        None,  # type: ignore[arg-type]
        [],
        [],
        list(models),
        CaseInfo(),
        photo=np.full((300, 240, 3), 120, np.uint8),
    )


def test_results_panel_leads_with_the_disagreement(qtbot, card):
    from dysmorph_desk.gui.results_view import ResultsView

    view = ResultsView()
    qtbot.addWidget(view)
    view.set_result(_result(_model(card, "sure", 0.99), _model(card, "calm", 0.10)))
    box = view.summary_box
    assert box is not None and box.agreement is not None
    assert box.agreement.text() == "<b>Models disagree — review the heatmaps and the photo.</b>"
    assert "sure: FLAGGED for clinical review — syndromic probability 99.0%" in box.text()
    assert "calm: not flagged — syndromic probability 10.0%" in box.text()
    layout = view.widget().layout()
    assert layout.itemAt(0).widget() is box  # first, above the per-model details
    view.set_message("Screening cancelled.")
    assert view.summary_box is None


def test_results_panel_one_model_has_its_line_only(qtbot, card):
    from dysmorph_desk.gui.results_view import ResultsView

    view = ResultsView()
    qtbot.addWidget(view)
    view.set_result(_result(_model(card, "solo", 1.2e-7)))
    assert view.summary_box.agreement is None
    [line] = view.summary_box.lines
    assert line.text().startswith("solo: not flagged — syndromic probability <0.1%")


def test_heatmap_view_colour_bar_and_class(qtbot, card):
    from dysmorph_desk.gui.heatmap_view import HeatmapView

    view = HeatmapView()
    qtbot.addWidget(view)
    view.show()
    assert view.colormap == "viridis"  # the colour-blind-safe default
    view.set_result(_result(_model(card, "solo", 0.2)))
    assert view.colour_bar.isVisible()
    assert view.colour_bar.label.text() == COLOUR_BAR_LABEL
    assert "Where solo looked for Syndromic-like" in view.caption.text()
    assert view.target_box.itemText(0) == "Syndromic class (default)"
    assert view.target_box.itemData(0) == ""  # no class chosen: the pipeline's default
    view.set_colormap("jet")  # still selectable
    assert view.colormap == "jet" and view.colour_bar.colormap == "jet"


def test_window_shows_summary_and_syndromic_map(qtbot, window, portraits):
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.open_path(portraits["grace_hopper"])
    box = window.results_view.summary_box
    assert box is not None and box.lines and "syndromic probability" in box.text()
    [model] = window.result.results
    assert model.cam_target == "syndromic_like"  # a binary model: the syndromic class
    assert "looked for Syndromic-like" in window.heatmap.caption.text()
    assert not window.heatmap.colour_bar.isHidden()  # (its tab may not be the current one)
    assert window.compare.colour_bar is not None
