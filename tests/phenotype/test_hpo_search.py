"""Search over HPO names and synonyms: case-insensitive, word-prefix, ranked."""

from __future__ import annotations

import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.phenotype import search
from dysmorph_desk.phenotype.search import MATCH_KINDS, normalise


def test_wide_set_eyes_finds_hypertelorism_by_its_synonym():
    hit = search("wide-set eyes")[0]
    assert (hit.id, hit.name) == ("HP:0000316", "Hypertelorism")
    assert (hit.matched, hit.match, hit.synonym) == ("Wide-set eyes", "exact", True)


@pytest.mark.parametrize("text", ["WIDE SET EYES", "Wide-Set  Eyes!", "eyes wide-set"])
def test_case_punctuation_and_word_order_do_not_matter(text):
    assert search(text, limit=3)[0].id == "HP:0000316"


def test_ranking_exact_then_prefix_then_word_prefix_then_contains():
    hits = search("hypertelorism", limit=50)
    assert hits[0].match == "exact" and hits[0].name == "Hypertelorism" and not hits[0].synonym
    ranks = [MATCH_KINDS.index(h.match) for h in hits]
    assert ranks == sorted(ranks)
    assert len({h.id for h in hits}) == len(hits)  # one hit per term
    # "telor" is inside words only: contains
    telor = search("telor", limit=10)
    assert {"HP:0000316", "HP:0000601"} <= {h.id for h in telor}
    assert all(h.match == "contains" for h in telor)
    # a prefix of the name
    assert search("hypertel", limit=1)[0].match == "prefix"


def test_every_hit_matches_every_word():
    for h in search("short stature", limit=20):
        assert "short" in normalise(h.matched) and "stature" in normalise(h.matched)


def test_ids_are_found_and_mapped():
    assert search("HP:0000316")[0].match == "id"
    hit = search("hp:0000578")[0]  # an alt_id of Hypertelorism
    assert (hit.id, hit.match) == ("HP:0000316", "id")
    assert search("HP:9999999") == []


def test_limit_and_no_match():
    assert len(search("abnormal", limit=7)) == 7
    assert search("qqqxxzz") == []
    with pytest.raises(UsageError):
        search("eyes", limit=0)


@pytest.mark.parametrize("text", ["", "  ", "--!", "x" * 201])
def test_empty_or_overlong_text_is_refused(text):
    with pytest.raises(UsageError):
        search(text)
