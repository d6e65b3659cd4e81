"""Test-time variants: one batched forward, the mean of the logits, and the instability mark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dysmorph_desk.bundles.container import read_bundle, write_bundle
from dysmorph_desk.bundles.format import load_bundle
from dysmorph_desk.bundles.schema import validate_manifest
from dysmorph_desk.errors import BundleError
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.pipeline import Screener, softmax
from dysmorph_desk.screening.results import CaseInfo
from dysmorph_desk.screening.stability import (
    DEFAULT_VARIANTS,
    NOT_VALIDATED_TEXT,
    UNSTABLE_TEXT,
    Stability,
    variant_images,
)

CASE = CaseInfo(age_months=60)


def _copy(src: Path, dest: Path, **card) -> Path:
    contents = read_bundle(src)
    contents.signature = ""
    contents.manifest.update(card)
    write_bundle(dest, contents)
    return dest


class Counting:
    """The bundle's ONNX model, recording the batch size of every call."""

    def __init__(self, model) -> None:
        self.model, self.forwards, self.gradients = model, [], []
        self.last_logits: np.ndarray | None = None

    def forward(self, images):
        self.forwards.append(images.shape[0])
        out = self.model.forward(images)
        self.last_logits = out.logits
        return out

    def gradient(self, image, target, n):
        self.gradients.append(image.shape[0])
        return self.model.gradient(image, target, n)


@pytest.fixture(scope="module")
def screen(portraits):
    """Screen Grace Hopper's portrait with one bundle: (result, the loaded bundle)."""
    detector = FaceDetector()

    def run(path: Path, options: ScreenOptions | None = None, counting: bool = False):
        bundle = load_bundle(path)
        if counting:
            bundle.model = Counting(bundle.model)
        result = Screener([bundle], detector).screen(portraits["grace_hopper"], CASE, options)
        return result, bundle

    return run


def test_variants_run_as_one_batched_forward_and_the_result_is_their_mean_logits(
    test_bundle, screen
):
    result, bundle = screen(test_bundle, counting=True)
    model = bundle.model
    assert model.forwards == [len(DEFAULT_VARIANTS)]  # one forward, every variant in the batch
    assert model.gradients == [1]  # Grad-CAM: the original face only
    r = result.results[0]
    z = model.last_logits.astype(np.float64)
    assert np.allclose(r.logits, z.mean(axis=0))
    assert r.syndromic_probability == pytest.approx(
        float(softmax(z.mean(axis=0), r.card.temperature)[r.card.syndromic_indices].sum())
    )
    per_variant = [
        float(softmax(row, r.card.temperature)[r.card.syndromic_indices].sum()) for row in z
    ]
    assert r.stability is not None and r.stability.variants == DEFAULT_VARIANTS
    assert r.stability.probabilities == pytest.approx(per_variant)
    doc = r.to_json()
    assert doc["stability"]["variants"] == list(DEFAULT_VARIANTS)
    assert doc["stability"]["min"] == pytest.approx(min(per_variant), abs=1e-6)
    assert doc["stability"]["max"] == pytest.approx(max(per_variant), abs=1e-6)
    assert doc["unstable"] is False


def test_the_heatmap_is_that_of_the_original_face(test_bundle, screen, tmp_path):
    plain = _copy(test_bundle, tmp_path / "plain.ddbundle", test_time_variants=["original"])
    with_variants, _ = screen(test_bundle)
    without, bundle = screen(plain, counting=True)
    assert bundle.model.forwards == [1]
    a, b = with_variants.results[0], without.results[0]
    assert b.stability is not None and b.stability.variants == ("original",)
    assert np.allclose(a.heatmap_aligned, b.heatmap_aligned, atol=1e-5)
    assert np.allclose(a.embedding, b.embedding, atol=1e-5)
    assert not b.unstable


def test_a_threshold_the_mirrored_face_crosses_marks_the_result_unstable(
    test_bundle, screen, tmp_path
):
    first, _ = screen(test_bundle)
    p = dict(zip(DEFAULT_VARIANTS, first.results[0].stability.probabilities, strict=True))
    assert not first.results[0].unstable  # threshold 0.5: every variant far below it
    # a card whose threshold lies between the original's and the mirror's probability
    lo, hi = sorted((p["original"], p["mirror"]))
    assert hi - lo > 1e-4
    threshold = (lo + hi) / 2
    card = _copy(test_bundle, tmp_path / "t.ddbundle", threshold=threshold)
    result, _ = screen(card)
    r = result.results[0]
    assert r.stability.crosses_threshold and r.stability.width < 0.25
    assert r.unstable and r.to_json()["unstable"] is True
    assert r.to_json()["stability"]["crosses_threshold"] is True
    assert any(UNSTABLE_TEXT in w and "test-hybrid" in w for w in result.warnings)
    assert not any(UNSTABLE_TEXT in w for w in first.warnings)


def test_a_wide_spread_is_unstable_even_on_one_side_of_the_threshold():
    wide = Stability(("original", "mirror"), (0.05, 0.40), 0.9, True)
    assert not wide.crosses_threshold and wide.unstable
    narrow = Stability(("original", "mirror"), (0.05, 0.20), 0.9, True)
    assert not narrow.unstable
    crossing = Stability(("original", "mirror"), (0.48, 0.52), 0.5, True)
    assert crossing.crosses_threshold and crossing.unstable
    assert not Stability(("original",), (0.5,), 0.5, True).unstable


def test_an_older_card_uses_the_default_variants_and_says_its_metrics_did_not(
    test_bundle, screen, tmp_path
):
    old, _ = screen(test_bundle)  # the fixture's card has no test_time_variants
    assert old.results[0].to_json()["stability"]["card_metrics_with_variants"] is False
    assert any(NOT_VALIDATED_TEXT in w for w in old.warnings)
    new = _copy(test_bundle, tmp_path / "n.ddbundle", test_time_variants=list(DEFAULT_VARIANTS))
    result, _ = screen(new)
    assert result.results[0].to_json()["stability"]["card_metrics_with_variants"] is True
    assert not any(NOT_VALIDATED_TEXT in w for w in result.warnings)


def test_probability_only_screening_runs_the_variants_too(test_bundle, screen):
    result, bundle = screen(test_bundle, ScreenOptions(cam_method=None), counting=True)
    assert bundle.model.forwards == [len(DEFAULT_VARIANTS)] and bundle.model.gradients == []
    assert result.results[0].stability is not None


def test_variant_images():
    face = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    v = variant_images(face)
    assert v.shape == (4, 32, 32, 3) and v.dtype == np.float32
    assert np.array_equal(v[0], face) and np.array_equal(v[1], face[:, ::-1])
    assert np.allclose(v[2], face * 0.85)
    assert abs(float(v[3].mean()) - float(face.mean())) < 1.0  # a blur keeps the mean
    assert float(np.abs(np.diff(v[3], axis=1)).mean()) < float(np.abs(np.diff(v[0], axis=1)).mean())
    with pytest.raises(ValueError):
        variant_images(face, ["original", "sharpen"])


def test_card_schema_checks_the_new_fields(test_bundle):
    manifest = read_bundle(test_bundle).manifest
    ok = validate_manifest({**manifest, "test_time_variants": list(DEFAULT_VARIANTS)}, "x")
    assert ok.test_time_variants == list(DEFAULT_VARIANTS)
    assert (
        validate_manifest({**manifest, "test_time_variants": None}, "x").test_time_variants is None
    )
    for bad, match in (
        (["original", "sharpen"], "test_time_variants\\[1\\]"),
        (["mirror", "original"], "start with 'original'"),
        (["original", "original"], "each variant once"),
        ([], "non-empty"),
        ("original", "non-empty"),
    ):
        with pytest.raises(BundleError, match=match):
            validate_manifest({**manifest, "test_time_variants": bad}, "x")
    assert validate_manifest(
        {**manifest, "atypical_is_cannot_assess": True}, "x"
    ).atypical_is_cannot_assess
    with pytest.raises(BundleError, match="atypical_is_cannot_assess"):
        validate_manifest({**manifest, "atypical_is_cannot_assess": "yes"}, "x")
