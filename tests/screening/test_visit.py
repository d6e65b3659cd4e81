"""A visit's photos fuse into one result per model: mean of the assessable photos' logits."""

from __future__ import annotations

import numpy as np
import pytest

from dysmorph_desk.bundles.format import resolve_bundle
from dysmorph_desk.screening.results import ModelResult
from dysmorph_desk.screening.visit import fuse_visit
from tests.fakes import bare_result, logits_photo


@pytest.fixture(scope="module")
def card():
    return resolve_bundle("demo-mobilenetv2").card  # header only: cheap, torch-free


def _photo(card, logits: list[float] | None, sha: str, reason: str | None = None):
    if logits is not None:
        return logits_photo(card, logits, sha)
    model = ModelResult(
        "m", card, "b" * 64, None, None, None, None, False, cannot_assess_reason=reason
    )
    return bare_result(model, sha=sha)


def test_one_photo_is_its_own_visit(card):
    photo = _photo(card, [0.3, -0.2], "a")
    visit = fuse_visit([photo])
    m = visit.models[0]
    assert m.syndromic_probability == pytest.approx(photo.results[0].syndromic_probability)
    assert m.photos_assessed == 1 and not m.photos_disagree and visit.warnings == []


def test_the_visit_is_the_softmax_of_the_mean_logits(card):
    a, b = [2.0, -1.0], [-1.0, 3.0]
    visit = fuse_visit([_photo(card, a, "a"), _photo(card, b, "b")])
    mean = (np.array(a) + np.array(b)) / 2 / card.temperature
    p = np.exp(mean - mean.max())
    p /= p.sum()
    expected = float(sum(p[i] for i in card.syndromic_indices))
    assert visit.models[0].syndromic_probability == pytest.approx(expected)
    # not the mean of the probabilities
    per = visit.models[0].per_photo
    assert expected != pytest.approx(sum(per) / 2, abs=1e-3)


def test_disagreeing_photos_are_said_to_disagree(card):
    idx = card.syndromic_indices[0]
    high = [0.0, 0.0]
    high[idx] = 20.0  # flagged whatever the threshold
    low = [0.0, 0.0]
    low[1 - idx] = 20.0
    visit = fuse_visit([_photo(card, high, "a"), _photo(card, low, "b")])
    m = visit.models[0]
    assert m.photos_disagree
    assert any("disagree" in w and "flagged on 1 of 2" in w for w in visit.warnings)


def test_unassessable_photos_are_left_out_and_said(card):
    visit = fuse_visit([_photo(card, [1.0, 0.0], "a"), _photo(card, None, "b", "too blurred")])
    m = visit.models[0]
    assert m.assessable and m.photos_assessed == 1 and m.photos_total == 2
    assert m.per_photo[1] is None
    assert any("1 of 2 photos could not be assessed" in w for w in visit.warnings)
    none = fuse_visit([_photo(card, None, "a", "too blurred"), _photo(card, None, "b", "age")])
    assert not none.models[0].assessable
    assert "no photo of the visit could be assessed" in none.models[0].cannot_assess_reason


def test_photos_screened_with_other_bundles_are_refused(card):
    a, b = _photo(card, [1.0, 0.0], "a"), _photo(card, [1.0, 0.0], "b")
    b.results[0].bundle_sha256 = "c" * 64
    with pytest.raises(ValueError, match="same bundles"):
        fuse_visit([a, b])
    with pytest.raises(ValueError):
        fuse_visit([])
