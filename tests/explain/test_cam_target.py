"""Which class a heatmap explains by default: the syndromic one of a binary model, so a photo
predicted "Control" still shows where the model looked for syndromic evidence."""

from __future__ import annotations

import json
from contextlib import redirect_stdout
from io import StringIO

import numpy as np
import pytest

from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.pipeline import Screener, default_cam_index
from dysmorph_desk.screening.results import CaseInfo
from tests.fakes import card


def _card(classes: list[tuple[str, bool]]) -> ModelCard:
    return card(
        "m",
        classes=[ClassInfo(c, c.title(), syn) for c, syn in classes],
        intended_use="tests only",
        training_data={},
        validation_metrics={},
        age_range_months=None,
    )


def test_default_index_binary_and_multiclass():
    binary = _card([("control", False), ("syndromic", True)])
    assert default_cam_index(binary, np.array([5.0, -5.0])) == 1  # predicted control
    assert default_cam_index(binary, np.array([-5.0, 5.0])) == 1
    multi = _card([("control", False), ("noonan", True), ("williams", True)])
    assert default_cam_index(multi, np.array([0.1, 0.2, 3.0])) == 2  # the predicted class
    assert default_cam_index(multi, np.array([4.0, 0.2, 0.1])) == 0


@pytest.fixture(scope="module")
def screener():
    return Screener([load_bundle(resolve_bundle("demo-hybrid").path)], FaceDetector())


def test_binary_model_predicted_control_explains_the_syndromic_class(screener, portraits):
    result = screener.screen(portraits["grace_hopper"], CaseInfo(age_months=96))
    m = result.results[0]
    assert m.predicted == "control"  # the premise: this photo is predicted Control
    assert m.cam_target == "syndromic_like"
    assert m.to_json()["cam_target"] == "syndromic_like"
    assert result.to_json()["results"][0]["cam_target"] == "syndromic_like"
    # the map really is the syndromic class's: the same as asking for it, not the control one
    asked = screener.screen(
        portraits["grace_hopper"],
        CaseInfo(age_months=96),
        ScreenOptions(cam_target="syndromic_like"),
    ).results[0]
    np.testing.assert_allclose(m.heatmap_aligned, asked.heatmap_aligned, atol=1e-6)
    control = screener.screen(
        portraits["grace_hopper"], CaseInfo(age_months=96), ScreenOptions(cam_target="control")
    ).results[0]
    assert control.cam_target == "control"  # another class can still be chosen
    assert not np.allclose(control.heatmap_aligned, m.heatmap_aligned, atol=1e-3)


def test_cli_json_and_cam_target_option(portraits, tmp_path):
    from dysmorph_desk.cli import main

    out = tmp_path / "r.json"
    args = ["screen", str(portraits["grace_hopper"]), "--model", "demo-hybrid", "--age", "96"]
    with redirect_stdout(StringIO()):
        assert main([*args, "--json", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    [model] = doc["photos"][0]["results"] if "photos" in doc else doc["results"]
    assert model["predicted"] == "control" and model["cam_target"] == "syndromic_like"
    with redirect_stdout(StringIO()):
        assert main([*args, "--json", str(out), "--force", "--cam-target", "control"]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    [model] = doc["photos"][0]["results"] if "photos" in doc else doc["results"]
    assert model["cam_target"] == "control"
