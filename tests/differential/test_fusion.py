"""The fusion of gestalt and phenotype evidence, and the top-k table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dysmorph_desk.differential.fusion import (
    FusionWeights,
    GestaltEvidence,
    PhenotypeEvidence,
    features,
    fit_weights,
    fuse,
)
from dysmorph_desk.differential.metrics import topk_rates, topk_table


def _pheno(scores: dict[str, float]) -> PhenotypeEvidence:
    ids = list(scores)
    return PhenotypeEvidence(ids, [f"name of {i}" for i in ids], np.array(list(scores.values())))


def test_gestalt_only_ranks_by_distance_and_keeps_entries():
    rows = fuse(
        [
            GestaltEvidence("OMIM:1", "far", 0.9, ((4, 0.9),)),
            GestaltEvidence("LOCAL:x", "near", 0.1, ((7, 0.1), (8, 0.2))),
        ],
        None,
    )
    assert [r.disorder_id for r in rows] == ["LOCAL:x", "OMIM:1"]
    assert rows[0].nearest_entries == ((7, 0.1), (8, 0.2))
    assert rows[0].phenotype_score is None and not rows[0].in_ontology
    assert [r.rank for r in rows] == [1, 2]


def test_phenotype_only_ranks_by_score():
    rows = fuse(None, _pheno({"OMIM:1": 1.0, "OMIM:2": 3.0, "OMIM:3": 2.0}))
    assert [r.disorder_id for r in rows] == ["OMIM:2", "OMIM:3", "OMIM:1"]
    assert rows[0].name == "name of OMIM:2" and rows[0].in_ontology
    assert rows[0].gestalt_distance is None


def test_both_sources_agreeing_beat_either_alone():
    gest = [GestaltEvidence("OMIM:1", "a", 0.2), GestaltEvidence("OMIM:2", "b", 0.1)]
    rows = fuse(gest, _pheno({"OMIM:1": 3.0, "OMIM:2": 0.5, "OMIM:3": 2.9}))
    assert rows[0].disorder_id == "OMIM:1"
    feats = features(gest, _pheno({"OMIM:1": 3.0, "OMIM:2": 0.5, "OMIM:3": 2.9}))
    i = feats.disorder_ids.index("OMIM:3")
    assert feats.gestalt[i] == 0.0 and feats.phenotype[i] == pytest.approx(2.9 / 3.0)


def test_weights_change_the_order_and_round_trip():
    gest = [GestaltEvidence("OMIM:1", "a", 0.0)]
    pheno = _pheno({"OMIM:1": 0.1, "OMIM:2": 1.0})
    face = fuse(gest, pheno, FusionWeights(0, 5, 0.1))
    terms = fuse(gest, pheno, FusionWeights(0, 0.1, 5))
    assert face[0].disorder_id == "OMIM:1" and terms[0].disorder_id == "OMIM:2"
    w = FusionWeights(0.5, 2.0, 3.0, "fit split", 40)
    assert FusionWeights.from_json(w.to_json()) == w
    with pytest.raises(ValueError):
        FusionWeights.from_json({"intercept": "nan", "gestalt": 1, "phenotype": 1})


def test_top_n_and_empty():
    assert fuse(None, None) == []
    rows = fuse(None, _pheno({f"OMIM:{i}": float(i) for i in range(30)}), top_n=10)
    assert len(rows) == 10 and rows[0].disorder_id == "OMIM:29"
    js = rows[0].to_json()
    assert set(js) >= {
        "rank",
        "disorder_id",
        "name",
        "gestalt_distance",
        "phenotype_score",
        "combined_score",
    }


def test_fit_weights_learns_which_source_informs():
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.2).astype(float)
    informative = np.clip(0.3 + 0.5 * y + 0.1 * rng.standard_normal(n), 0, 1)
    noise = rng.random(n)
    w = fit_weights(np.column_stack([informative, noise]), y, fitted_on="t", n_cases=n)
    assert w.gestalt > 3 and abs(w.phenotype) < 1.5
    with pytest.raises(ValueError):
        fit_weights(np.zeros((3, 2)), np.zeros(3), fitted_on="t", n_cases=3)


def test_topk_rates_with_intervals():
    rates = topk_rates([1, 2, 6, None, 31])
    assert (rates[1].k, rates[5].k, rates[10].k, rates[30].k) == (1, 2, 3, 3)
    lo, hi = rates[1].ci95
    assert lo < 0.2 < hi and rates[1].n == 5
    table = topk_table([1, None, 3], ["rare", "frequent", "rare"])
    assert table["rare"][5].k == 2 and table["frequent"][1].n == 1 and table["all"][1].n == 3
    assert math.isnan(topk_rates([])[1].value) and topk_rates([])[1].to_json()["value"] is None
