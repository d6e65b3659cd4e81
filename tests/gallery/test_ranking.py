"""Ranking: equal to a brute-force computation, both aggregates, visits, and no patient ids out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dysmorph_desk.errors import ModelError, UsageError
from dysmorph_desk.gallery.errors import GalleryError
from dysmorph_desk.gallery.model import NoMatchThreshold
from dysmorph_desk.gallery.ranking import (
    NEAREST_SHOWN,
    PER_DISORDER,
    pick_set,
    rank,
    rank_screening,
    visit_embedding,
)
from tests import fakes
from tests.gallery.helpers import OTHER_SHA, SHA, FakeBundle, random_gallery, unit_rows

BUNDLE = FakeBundle()


def brute_force(gallery, query, aggregate="nearest", k=3, exclude=()):
    """Per disorder, straight from the definitions, with Python loops."""
    q = np.asarray(query, np.float64)
    q /= np.linalg.norm(q)
    s = gallery.sets[SHA]
    patients: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for n, v in zip(s.numbers, s.matrix, strict=True):
        e = gallery.entries[int(n)]
        if e.patient_id in exclude:
            continue
        d = 1.0 - float(np.dot(v.astype(np.float64), q))
        patients.setdefault((e.disorder_id, e.patient_id), []).append((d, int(n)))
    per: dict[str, list[tuple[float, int]]] = {}
    for (did, _), ds in patients.items():
        per.setdefault(did, []).append(min(ds))
    out = {}
    for did, best in per.items():
        best.sort()
        dists = [d for d, _ in best]
        score = dists[0] if aggregate == "nearest" else float(np.mean(dists[:k]))
        out[did] = (score, dists[0], len(best), [n for _, n in best[:PER_DISORDER]])
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("aggregate", "k"), [("nearest", 3), ("mean-k", 1), ("mean-k", 2), ("mean-k", 3)]
)
def test_ranking_equals_brute_force(seed, aggregate, k):
    g = random_gallery(seed, disorders=15, max_patients=5, max_photos=3)
    query = np.random.default_rng(100 + seed).normal(size=16)
    r = rank(query, g, BUNDLE, aggregate=aggregate, k=k)
    expected = brute_force(g, query, aggregate, k)
    assert [d.disorder_id for d in r.disorders] == sorted(
        expected, key=lambda d: (expected[d][0], d)
    )
    for d in r.disorders:
        score, nearest, patients, entries = expected[d.disorder_id]
        assert d.distance == pytest.approx(score, abs=1e-6)
        assert d.nearest_distance == pytest.approx(nearest, abs=1e-6)
        assert d.patients == patients
        assert [e for e, _ in d.nearest] == entries
        assert [x for _, x in d.nearest] == sorted(x for _, x in d.nearest)
    assert [d.rank for d in r.disorders] == list(range(1, len(expected) + 1))


def test_nearest_entries_overall_are_the_closest_rows():
    g = random_gallery(3, disorders=20)
    query = np.random.default_rng(5).normal(size=16)
    r = rank(query, g, BUNDLE)
    s = g.sets[SHA]
    q = query / np.linalg.norm(query)
    d = 1.0 - s.matrix.astype(np.float64) @ q
    want = [int(s.numbers[i]) for i in np.argsort(d, kind="stable")[:NEAREST_SHOWN]]
    assert [e.entry for e in r.nearest] == want
    assert r.nearest_distance == pytest.approx(float(d.min()), abs=1e-6)
    assert r.nearest[0].disorder_id == g.entries[want[0]].disorder_id


def test_an_entry_ranks_its_own_disorder_first_at_distance_zero():
    g = random_gallery(4)
    number = 7
    r = rank(g.sets[SHA].vector_of(number), g, BUNDLE)
    assert r.disorders[0].disorder_id == g.entries[number].disorder_id
    assert r.nearest[0].entry == number and r.nearest_distance == pytest.approx(0.0, abs=1e-6)


def test_mean_k_differs_from_nearest_where_it_should():
    """A disorder with one look-alike child and far others: first by nearest, not by mean of 3."""
    from dysmorph_desk.gallery.model import Gallery

    q = np.eye(4)[0]
    g = Gallery()
    near = np.array([1.0, 0.2, 0, 0])
    for i, v in enumerate([near, -q, -q]):
        g.add("ORPHA:1", "A", f"a{i}", {SHA: ("unit-model", v)}, source="data")
    for i, v in enumerate([[1, 0.5, 0, 0], [1, 0.55, 0, 0], [1, 0.6, 0, 0]]):
        g.add("ORPHA:2", "B", f"b{i}", {SHA: ("unit-model", np.array(v, float))}, source="data")
    assert rank(q, g, BUNDLE).disorders[0].disorder_id == "ORPHA:1"
    assert rank(q, g, BUNDLE, aggregate="mean-k", k=3).disorders[0].disorder_id == "ORPHA:2"


def test_a_patients_photos_count_once():
    """Three near photos of one patient do not make a mean-of-3 look like three patients."""
    from dysmorph_desk.gallery.model import Gallery

    q = np.eye(4)[0]
    g = Gallery()
    for _ in range(3):
        g.add("ORPHA:1", "A", "same-child", {SHA: ("unit-model", q)}, source="data")
    g.add("ORPHA:1", "A", "other-child", {SHA: ("unit-model", -q)}, source="data")
    d = rank(q, g, BUNDLE, aggregate="mean-k", k=3).disorders[0]
    assert d.patients == 2 and d.distance == pytest.approx(1.0)  # (0 + 2) / 2
    assert len(d.nearest) == 2


def test_excluded_patients_are_left_out():
    g = random_gallery(5)
    query = np.random.default_rng(6).normal(size=16)
    pids = sorted({e.patient_id for e in g.entries.values()})[:4]
    r = rank(query, g, BUNDLE, exclude_patients=pids)
    expected = brute_force(g, query, exclude=pids)
    assert {d.disorder_id: round(d.distance, 6) for d in r.disorders} == {
        k: round(v[0], 6) for k, v in expected.items()
    }
    excluded_entries = {n for n, e in g.entries.items() if e.patient_id in pids}
    assert not excluded_entries & {e.entry for e in r.nearest}
    assert not excluded_entries & {n for d in r.disorders for n, _ in d.nearest}


def test_the_query_is_normalised_and_checked():
    g = random_gallery(6)
    query = np.random.default_rng(7).normal(size=16)
    a, b = rank(query, g, BUNDLE), rank(query * 37.0, g, BUNDLE)
    assert [d.disorder_id for d in a.disorders] == [d.disorder_id for d in b.disorders]
    with pytest.raises(ModelError):
        rank(np.zeros(16), g, BUNDLE)
    with pytest.raises(ModelError):
        rank(np.full(16, np.nan), g, BUNDLE)
    with pytest.raises(GalleryError, match="not comparable"):
        rank(np.ones(8), g, BUNDLE)
    with pytest.raises(GalleryError, match="not comparable"):
        rank(query, g, FakeBundle(OTHER_SHA, "another-model"))
    with pytest.raises(UsageError):
        rank(query, g, BUNDLE, aggregate="median")
    with pytest.raises(UsageError):
        rank(query, g, BUNDLE, aggregate="mean-k", k=0)


def test_rankings_never_carry_patient_ids():
    g = random_gallery(7)
    r = rank(np.random.default_rng(8).normal(size=16), g, BUNDLE)
    text = repr(r) + json.dumps(r.to_json())
    assert "SECRET-" not in text
    assert all(e.patient_id not in text for e in g.entries.values())


def test_no_close_match_against_the_calibrated_threshold():
    g = random_gallery(8)
    s = g.sets[SHA]
    far = -s.matrix.sum(axis=0)  # opposite to the gallery as a whole
    uncalibrated = rank(far, g, BUNDLE)
    assert uncalibrated.no_close_match is None
    assert any("not calibrated" in n for n in uncalibrated.notes)
    g.calibrated(SHA, NoMatchThreshold(0.05, 0.05, 1, 20, s.entries_digest(), len(s)))
    assert rank(far, g, BUNDLE).no_close_match is True
    close = rank(s.vector_of(1), g, BUNDLE)
    assert close.no_close_match is False and close.threshold_current
    g.add("ORPHA:1", "x", "P-new", {SHA: ("unit-model", np.ones(16))}, source="photo")
    stale = rank(s.vector_of(1), g, BUNDLE)
    assert not stale.threshold_current and any("recalibrate" in n for n in stale.notes)


def test_local_ids_are_marked_and_noted():
    g = random_gallery(9, local_every=2)
    r = rank(g.sets[SHA].vector_of(1), g, BUNDLE)
    assert {d.local for d in r.disorders} == {True, False}
    assert all(d.local == d.disorder_id.startswith("LOCAL:") for d in r.disorders)
    assert any("LOCAL:" in n for n in r.notes)


def test_json_shape():
    r = rank(np.random.default_rng(10).normal(size=16), random_gallery(10), BUNDLE)
    doc = r.to_json(top=3)
    assert len(doc["disorders"]) == 3 and doc["gallery"]["disorders"] == len(r.disorders)
    first = doc["disorders"][0]
    assert set(first) >= {"rank", "disorder_id", "name", "gestalt_distance", "nearest_entries"}
    assert doc["gallery"]["sha256"] == random_gallery(10).digest()
    json.dumps(doc, allow_nan=False)


def test_a_visit_is_the_normalised_mean_of_its_photos():
    rows = unit_rows(np.random.default_rng(11), 3, 16)
    v = visit_embedding([rows[0], rows[1] * 5.0, rows[2]])  # each photo weighs the same
    mean = rows.astype(np.float64).mean(axis=0)
    assert np.allclose(v, mean / np.linalg.norm(mean), atol=1e-6)
    assert v.dtype == np.float32 and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError):
        visit_embedding([])
    with pytest.raises(ValueError):
        visit_embedding([rows[0], -rows[0]])


def _photo(embedding, sha=SHA, assessable=True):
    card = fakes.card("unit-model")
    model = (
        fakes.binary(card, 0.3, bundle_sha256=sha, embedding=embedding)
        if assessable
        else fakes.unassessed(card, bundle_sha256=sha)
    )
    return fakes.bare_result(model)


def test_rank_screening_uses_the_assessable_photos_of_the_bundle():
    g = random_gallery(12)
    rows = unit_rows(np.random.default_rng(13), 2, 16)
    visit = [
        _photo(rows[0]),
        _photo(rows[1]),
        _photo(None, assessable=False),
        _photo(rows[0], OTHER_SHA),
    ]
    r = rank_screening(visit, g, BUNDLE)
    assert r is not None and r.photos == 2
    assert r.disorders == rank(visit_embedding(list(rows)), g, BUNDLE, photos=2).disorders
    one = rank_screening([_photo(rows[0])], g, BUNDLE)
    assert one is not None and one.photos == 1
    assert rank_screening([_photo(None, assessable=False)], g, BUNDLE) is None


def test_pick_set_takes_the_first_bundle_the_gallery_knows():
    g = random_gallery(14)
    other = FakeBundle(OTHER_SHA, "another-model")
    assert pick_set(g, [other, BUNDLE]) is BUNDLE
    with pytest.raises(GalleryError, match="not comparable"):
        pick_set(g, [other])


def test_the_index_follows_changes():
    g = random_gallery(15)
    v = g.sets[SHA].vector_of(1)
    before = rank(v, g, BUNDLE)
    g.remove([1])
    after = rank(v, g, BUNDLE)
    assert 1 not in {e.entry for e in after.nearest}
    assert after.gallery_sha256 != before.gallery_sha256 and after.entries == before.entries - 1
