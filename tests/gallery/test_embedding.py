"""Screening exposes each assessed face's embedding: float32, L2-normalised, not in the JSON; and
the gallery's entries come from that same pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dysmorph_desk.errors import InputRefused


@pytest.fixture(scope="module")
def screener(test_bundle):
    from dysmorph_desk.bundles.format import load_bundle
    from dysmorph_desk.screening.pipeline import Screener

    return Screener([load_bundle(test_bundle)])


def test_an_assessed_face_carries_its_embedding(screener, portraits):
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.results import CaseInfo

    result = screener.screen(
        portraits["grace_hopper"], CaseInfo(age_months=30), ScreenOptions(cam_method=None)
    )
    m = result.results[0]
    size = screener.bundles[0].runtime["embedding_size"]
    assert m.assessable and m.embedding is not None
    assert m.embedding.dtype == np.float32 and m.embedding.shape == (size,)
    assert np.linalg.norm(m.embedding.astype(np.float64)) == pytest.approx(1.0, abs=1e-5)
    doc = json.dumps(result.to_json())
    assert "embedding" not in doc


def test_an_unassessed_face_has_none(screener, portraits):
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.results import CaseInfo

    # the test card is validated for 6-144 months: 200 months cannot be assessed
    result = screener.screen(
        portraits["grace_hopper"], CaseInfo(age_months=200), ScreenOptions(cam_method=None)
    )
    assert not result.results[0].assessable and result.results[0].embedding is None


def test_gallery_embeddings_equal_screening_embeddings(screener, portraits):
    from dysmorph_desk.gallery.embed import embed_photo
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.results import CaseInfo

    photo = portraits["grace_hopper"]
    emb = embed_photo(screener, photo, age_months=30, keep_photo=True)
    screened = screener.screen(photo, CaseInfo(age_months=30), ScreenOptions(cam_method=None))
    sha = screener.bundles[0].sha256
    assert np.array_equal(emb.embeddings[sha][1], screened.results[0].embedding)
    assert emb.photo is not None and emb.photo.startswith(b"\xff\xd8\xff")
    assert b"Exif" not in emb.photo[:4096]  # no metadata travels with a kept photo
    with pytest.raises(InputRefused, match="outside the validated range"):
        embed_photo(screener, photo, age_months=200)
