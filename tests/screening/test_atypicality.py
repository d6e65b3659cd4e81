"""Atypical photos: Mahalanobis distance of the embedding against the held-out photos' percentiles."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dysmorph_desk.bundles.container import read_bundle, write_bundle
from dysmorph_desk.bundles.format import load_bundle
from dysmorph_desk.cli import main
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.screening.atypicality import (
    ATYPICAL_TEXT,
    Reference,
    cross_fitted_distances,
    fit_statistics,
    ledoit_wolf,
    mahalanobis,
)
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.pipeline import Screener
from dysmorph_desk.screening.results import CaseInfo

SCHEMA = Path(__file__).parents[2] / "docs" / "schema" / "screening-v2.schema.json"
CASE = CaseInfo(age_months=60)
NO_CAM = ScreenOptions(cam_method=None)


def drawn_face_png() -> bytes:
    """A face of OpenCV ellipses and lines: not a photograph, but MTCNN finds a face in it."""
    img = np.full((480, 400, 3), (200, 215, 230), np.uint8)
    cv2.ellipse(img, (200, 250), (120, 160), 0, 0, 360, (235, 190, 160), -1)
    cv2.ellipse(img, (200, 140), (125, 80), 0, 180, 360, (90, 60, 40), -1)
    for x in (155, 245):
        cv2.ellipse(img, (x, 225), (26, 14), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(img, (x, 225), 9, (60, 40, 30), -1)
        cv2.circle(img, (x, 225), 4, (0, 0, 0), -1)
        cv2.line(img, (x - 28, 195), (x + 28, 192), (80, 55, 40), 6)
    cv2.polylines(img, [np.array([[200, 235], [188, 295], [212, 295]])], False, (190, 140, 120), 3)
    cv2.ellipse(img, (200, 335), (45, 18), 0, 0, 180, (180, 70, 70), -1)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def _with_card(src: Path, dest: Path, **card) -> Path:
    contents = read_bundle(src)
    contents.signature = ""
    contents.manifest.update(card)
    write_bundle(dest, contents)
    return dest


# --- the statistics ---------------------------------------------------------------------------


def test_ledoit_wolf_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.covariance")
    rng = np.random.default_rng(0)
    for n, d in ((40, 64), (300, 16)):
        x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.1
        mean, cov, shrinkage = ledoit_wolf(x)
        ref = sk.LedoitWolf().fit(x)
        assert shrinkage == pytest.approx(ref.shrinkage_)
        assert np.allclose(cov, ref.covariance_) and np.allclose(mean, ref.location_)


def test_mahalanobis_of_an_isotropic_cloud_and_the_percentile_table():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 3))
    mean, precision, _ = fit_statistics(x)
    assert np.allclose(precision, np.eye(3), atol=0.1)
    assert mahalanobis(np.array([3.0, 0, 0]), mean, precision)[0] == pytest.approx(3.0, rel=0.05)
    ref = Reference(mean, precision, np.arange(101, dtype=float))
    assert ref.percentile(-1.0) == 0.0 and ref.percentile(150.0) == 100.0
    assert ref.percentile(42.25) == pytest.approx(42.25)
    assert not ref.assess(mean).atypical
    ties = Reference(mean, precision, np.r_[np.zeros(50), np.ones(51)])
    assert ties.percentile(0.0) == pytest.approx(49.0) and ties.percentile(1.0) == 100.0


def test_cross_fitted_distances_leave_each_patients_photos_out():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 4))
    groups = [f"p{i // 2}" for i in range(40)]  # two photos per patient
    d = cross_fitted_distances(x, groups, folds=5, seed=0)
    assert d.shape == (40,) and np.all(np.isfinite(d))
    # the in-sample distances (statistics fitted on every photo) are smaller on average
    mean, precision, _ = fit_statistics(x)
    assert mahalanobis(x, mean, precision).mean() < d.mean()


# --- screening ----------------------------------------------------------------------------------


def test_a_drawn_face_is_atypical_and_warned_about(calibrated_bundle, detector, portraits):
    bundle = load_bundle(calibrated_bundle)
    assert Reference.of(bundle) is not None
    screener = Screener([bundle], detector)
    drawn = screener.screen(drawn_face_png(), CASE, NO_CAM)
    assert drawn.faces_detected >= 1
    r = drawn.results[0]
    assert r.assessable and r.atypicality is not None and r.atypicality.atypical
    assert r.atypicality.percentile > 99
    assert any(ATYPICAL_TEXT in w and "test-mobilenetv2" in w for w in drawn.warnings)
    doc = r.to_json()["atypicality"]
    assert doc["atypical"] is True and doc["percentile"] > 99 and doc["distance"] > 0
    # the portrait the synthetic children are made from is well within the reference
    typical = screener.screen(portraits["grace_hopper"], CASE, NO_CAM)
    t = typical.results[0].atypicality
    assert t is not None and not t.atypical and t.percentile < 99
    assert not any(ATYPICAL_TEXT in w for w in typical.warnings)


def test_atypical_is_cannot_assess_makes_it_a_reason(calibrated_bundle, detector, tmp_path):
    strict = _with_card(
        calibrated_bundle, tmp_path / "strict.ddbundle", atypical_is_cannot_assess=True
    )
    screener = Screener([load_bundle(strict)], detector)
    result = screener.screen(drawn_face_png(), CASE, NO_CAM)
    r = result.results[0]
    assert not r.assessable and r.probabilities is None and r.flagged is None
    assert r.cannot_assess_reason == ATYPICAL_TEXT
    assert r.atypicality is not None and r.atypicality.atypical
    assert r.to_json()["atypicality"]["atypical"] is True
    forced = screener.screen(
        drawn_face_png(), CASE, ScreenOptions(cam_method=None, force_assess=True)
    ).results[0]
    assert forced.assessable and forced.forced_assessment
    assert forced.syndromic_probability is not None


def test_a_bundle_without_statistics_gives_no_atypicality(
    test_bundle, detector, portraits, tmp_path
):
    from dysmorph_desk.bundles.container import read_bundle, write_bundle

    contents = read_bundle(test_bundle)  # the shipped demo bundles carry statistics: drop them
    contents.atypicality = {}
    contents.runtime.pop("atypicality", None)
    bare = tmp_path / "bare.ddbundle"
    write_bundle(bare, contents)
    result = Screener([load_bundle(bare)], detector).screen(portraits["grace_hopper"], CASE, NO_CAM)
    assert result.results[0].atypicality is None
    assert result.results[0].to_json()["atypicality"] is None


def test_the_cli_json_of_an_atypical_photo_validates_against_the_schema(
    calibrated_bundle, tmp_path, capsys
):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text("utf-8"))
    photo = tmp_path / "drawn.png"
    photo.write_bytes(drawn_face_png())
    strict = _with_card(
        calibrated_bundle, tmp_path / "strict.ddbundle", atypical_is_cannot_assess=True
    )
    for bundle, assessable in ((calibrated_bundle, True), (strict, False)):
        out = tmp_path / f"{bundle.stem}.json"
        code = main(
            ["screen", str(photo), "--model", str(bundle), "--age", "60", "--json", str(out)]
        )
        assert code == 0, capsys.readouterr().err
        doc = json.loads(out.read_text("utf-8"))
        jsonschema.Draft202012Validator(schema).validate(doc)
        result = doc["photos"][0]["results"][0]
        assert result["assessable"] is assessable
        assert result["atypicality"]["atypical"] is True
        if assessable:
            assert any(ATYPICAL_TEXT in w for w in doc["photos"][0]["warnings"])
            assert set(result["stability"]) >= {"min", "max", "variants"}
    assert ATYPICAL_TEXT in capsys.readouterr().out
