"""Honest numbers on the report, in the JSON and at the CLI (issue: false precision).

* a percentage is never in scientific notation, never "100.0%" for a rate from a finite sample;
* sensitivity/specificity come with their exact 95 % CI and n children, or "interval unknown";
* PPV/NPV are ranges from those intervals, and absent (never bold) for a result that cannot be
  assessed;
* the patient's age band and sex: the model's rates there, or "not validated for this group";
* a bundle whose card says failed-validation is refused unless ``--allow-unvalidated``.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
from dysmorph_desk.faces.types import QualityCheck
from dysmorph_desk.report.formatting import (
    format_percent,
    format_predictive_ranges,
    format_range,
    format_rate,
    predictive_value_text,
    validation_rows,
)
from dysmorph_desk.report.options import ReportOptions
from dysmorph_desk.report.render import report_bytes
from dysmorph_desk.screening.results import CaseInfo, ModelResult, ScreeningResult
from dysmorph_desk.utils.intervals import Rate, clopper_pearson, predictive_value_range
from tests.cli_helpers import run
from tests.fakes import assessed, card, screening_result, unassessed

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "schema" / "screening-v2.schema.json").read_text("utf-8")
)


def _counts(tp, fp, tn, fn):
    n = tp + fp + tn + fn
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "n_children": n, "n_photos": 3 * n}


def _with_unit(c):
    return {**c, "unit": "child"}


COUNTED = {
    "metrics_unit": "photo",
    "recall": 0.9874,
    "specificity": 1.0,
    "auc": 0.9995,
    "auc_ci95": [0.991, 1.0],
    "runtime_train_s": 2021.49,
    "kappa": 0.9874,
    "counts": _with_unit(_counts(52, 0, 53, 1)),
    "sensitivity_ci95": [0.8993, 0.9996],
    "specificity_ci95": [0.9327, 1.0],
    "subgroups": {
        "age_band": {"6-12 y": _with_unit(_counts(10, 0, 12, 1))},
        "sex": {"female": _with_unit(_counts(3, 0, 4, 0))},
    },
    "min_children_per_subgroup": 10,
}
OLD = {  # a shipped demo card as it is today: photo counts, no unit, no intervals
    "accuracy": 1.0,
    "recall": 1.0,
    "specificity": 1.0,
    "auc": 1.0,
    "tp": 159,
    "fp": 0,
    "tn": 159,
    "fn": 0,
    "runtime_train_s": 872.8883,
}


def _card(name: str, metrics: dict, status: str = "research") -> ModelCard:
    return card(
        name,
        status=status,
        classes=[ClassInfo("control", "Control", False), ClassInfo("noonan", "Noonan", True)],
        training_data={"summary": "test data"},
        validation_metrics=metrics,
    )


def _assessed(name: str, metrics: dict) -> ModelResult:
    return assessed(
        _card(name, metrics),
        {"control": 0.9999, "noonan": 0.0001},
        predicted="control",
        syndromic_probability=0.0001,
        bundle_sha256="ab" * 32,
    )


def _unassessed(name: str, metrics: dict) -> ModelResult:
    return unassessed(_card(name, metrics), "face turned too far", bundle_sha256="cd" * 32)


def _result(*models: ModelResult, age=96.0, sex="female") -> ScreeningResult:
    return screening_result(
        list(models),
        photo_sha256="ef" * 32,
        box=(10.0, 10.0, 90.0, 90.0),
        quality=[QualityCheck("yaw", 5.0, "°", 25.0, "<=", True, True)],
        case=CaseInfo(patient_id="HN-1", age_months=age, sex=sex),
        photo=np.full((100, 100, 3), 128, np.uint8),
    )


def _text(pdf: bytes) -> str:
    return re.sub(
        r"\s+", " ", "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    )


# --- formats --------------------------------------------------------------------------------------


def test_format_percent_never_scientific_never_falsely_certain():
    assert format_percent(0.031) == "3.1%"
    assert format_percent(0.0) == "0%" and format_percent(1.0) == "100%"
    assert format_percent(float("nan")) == "n/a"
    for tiny in (1e-12, 1e-7, 0.0001, 0.000999):
        assert format_percent(tiny) == "<0.1%"
    for near_one in (0.99999999, 0.9995, 0.99901):
        assert format_percent(near_one) == ">99.9%"
    for x in np.concatenate([np.logspace(-15, 0, 400), 1 - np.logspace(-15, -0.5, 400)]):
        text = format_percent(float(x))
        assert "e" not in text and text != "100.0%" and text != "0.0%", (x, text)


def test_rates_come_with_their_interval_and_n():
    assert format_range(0.0, 0.0672) == "0–6.7%"
    assert format_range(0.9327, 1.0) == "93.3–100%"
    assert format_range(0.99927, 0.999995) == "99.93–>99.99%"
    assert format_rate(Rate(1.0, clopper_pearson(53, 53), 53)) == "100% (95% CI 93.3–100%, n = 53)"
    assert format_rate(Rate(1.0)) == "100%, interval unknown (n not recorded)"
    assert format_rate(Rate(float("nan"), (0.0, 1.0), 0)) == "n/a (95% CI 0–100%, n = 0)"
    rows = validation_rows(_card("m", COUNTED))
    assert rows == [
        ("Sensitivity", "98.1%", "89.9–99.95%", "53"),
        ("Specificity", "100%", "93.3–100%", "53"),
        ("AUC", ">0.999", "0.991–1.000", "106"),
    ]
    old = validation_rows(_card("m", OLD))
    assert old[0] == ("Sensitivity", "100%", "unknown", "—")


def test_ppv_is_a_range_and_the_issues_example():
    ranges = predictive_value_range(clopper_pearson(52, 53), clopper_pearson(53, 53), 0.01)
    text = format_predictive_ranges(ranges, 0.01)
    assert text.startswith("PPV 11.9–100% / NPV 99.89–>99.99%") and text.endswith("prevalence 1%")
    assert predictive_value_text(_card("m", COUNTED), 0.01, True) == text
    assert predictive_value_text(_card("m", COUNTED), 0.01, False) is None  # cannot assess
    assert "interval unknown" in str(predictive_value_text(_card("m", OLD), 0.01, True))


# --- the report --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_text() -> str:
    result = _result(
        _assessed("counted", COUNTED), _unassessed("unassessed", COUNTED), _assessed("old", OLD)
    )
    return _text(report_bytes(result, ReportOptions(prevalence=0.01)))


def test_no_finite_sample_rate_is_printed_as_certain(report_text):
    assert not re.search(r"(?<![\d.])(100|0)\.0%", report_text)  # "50.0%" is a threshold
    assert ">99.9%" in report_text and "<0.1%" in report_text  # the probabilities
    assert "93.3–100%" in report_text  # specificity 53/53 with its interval
    assert "interval unknown (n not recorded)" in report_text.lower()  # the older card
    assert "runtime" not in report_text.lower() and "kappa" not in report_text.lower()


def test_the_report_gives_ppv_ranges_and_the_patients_groups(report_text):
    ranges = predictive_value_range(clopper_pearson(52, 53), clopper_pearson(53, 53), 0.01)
    assert format_predictive_ranges(ranges, 0.01) in report_text
    assert report_text.count("PPV 11.9–100%") == 1  # not for the model that cannot assess
    assert "age 6-12 y (23 children): sensitivity 90.9% (95% CI" in report_text
    assert "sex female: not validated for this group (7 children; at least 10 needed)" in (
        report_text
    )
    assert "subgroups not recorded on the model card" in report_text  # the older card


def test_nothing_about_ppv_and_nothing_bold_for_a_result_that_cannot_be_assessed():
    from dysmorph_desk.report import model_table
    from dysmorph_desk.report.style import FONT_BOLD, paragraph_styles

    result = _result(_unassessed("unassessed", COUNTED))
    column = model_table._model_column(
        result.results[0], result, ReportOptions(), paragraph_styles(), 150.0
    )
    cell = column[model_table._MODEL_ROWS.index("PPV / NPV")]
    flows = cell if isinstance(cell, list) else [cell]
    assert all("PPV" not in f.getPlainText() and "NPV" not in f.getPlainText() for f in flows)
    assert all(f.style.fontName != FONT_BOLD and "<b>" not in f.text for f in flows)


# --- the JSON ----------------------------------------------------------------------------------


def test_json_validation_object_validates_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    result = _result(
        _assessed("counted", COUNTED), _unassessed("unassessed", COUNTED), _assessed("old", OLD)
    )
    doc = json.loads(json.dumps(result.to_json(), allow_nan=False))
    validator = jsonschema.Draft202012Validator({"$ref": "#/$defs/photo", "$defs": SCHEMA["$defs"]})
    validator.validate(doc)
    counted, unassessed, old = (r["validation"] for r in doc["results"])
    assert counted["sensitivity"] == {
        "value": pytest.approx(52 / 53, abs=1e-6),
        "ci95": pytest.approx(list(clopper_pearson(52, 53)), abs=1e-6),
        "n": 53,
        "k": 52,
    }
    assert counted["unit"] == "child" and counted["prevalence"] == 0.01
    assert counted["ppv_range"][0] == pytest.approx(0.119, abs=1e-3)
    assert counted["subgroup"]["age_band"]["validated"] is True
    assert counted["subgroup"]["sex"]["validated"] is False
    assert unassessed["ppv_range"] is None and unassessed["npv_range"] is None
    assert old["sensitivity"] == {"value": 1.0, "ci95": None, "n": None}
    assert old["interval"] == "unknown (n not recorded)" and old["ppv_range"] is None
    # the schema refuses a PPV range on a result that cannot be assessed
    bad = json.loads(json.dumps(doc))
    bad["results"][1]["validation"]["ppv_range"] = [0.1, 1.0]
    assert not validator.is_valid(bad)


# --- the gate at the CLI -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def failed_bundle(tmp_path_factory) -> Path:
    from dysmorph_desk.bundles.container import read_bundle, write_bundle
    from dysmorph_desk.bundles.format import resolve_bundle

    contents = read_bundle(resolve_bundle("demo-mobilenetv2").path)
    contents.manifest["name"] = "weak-model"
    contents.manifest["status"] = "failed-validation"
    contents.manifest["validation_metrics"] = {
        **contents.manifest["validation_metrics"],
        "auc_ci95": [0.32, 0.65],
        "gate": {"passed": False, "reason": "the AUC 95% CI 0.32-0.65 includes 0.5"},
    }
    contents.signature = ""
    path = tmp_path_factory.mktemp("bundles") / "weak.ddbundle"
    write_bundle(path, contents, force=True)
    return path


def test_screen_demo_and_install_refuse_a_model_that_failed_validation(
    capsys, failed_bundle, portraits, tmp_path
):
    photo = portraits["grace_hopper"]
    for argv in (
        ("screen", photo, "--model", failed_bundle, "--cam", "none", "--json", "-"),
        ("demo", "--model", failed_bundle, "--cam", "none", "--out", tmp_path / "d.pdf"),
        ("models", "--install", failed_bundle),
    ):
        code, _out, err = run(capsys, *argv)
        assert code == 4, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "--allow-unvalidated" in lines[0]
        assert "failed validation" in lines[0] and "includes 0.5" in lines[0]
    assert not (tmp_path / "d.pdf").exists()


def test_allowed_it_is_marked_and_warned_about(capsys, failed_bundle, portraits):
    code, out, err = run(
        capsys,
        "screen",
        portraits["grace_hopper"],
        "--model",
        failed_bundle,
        "--cam",
        "none",
        "--age",
        "96",
        "--json",
        "-",
        "--allow-unvalidated",
    )
    assert code == 0, err
    assert "warning: weak-model: failed validation — not for clinical use" in err
    doc = json.loads(out)
    r = doc["photos"][0]["results"][0]
    assert r["model_status"] == "failed-validation"
    assert r["model_status_label"] == "failed validation — not for clinical use"
    assert "includes 0.5" in r["validation"]["warning"]
    code, out, err = run(capsys, "models", "--install", failed_bundle, "--allow-unvalidated")
    assert code == 0 and out.strip().endswith("weak-model.ddbundle")
    assert "failed validation" in err
