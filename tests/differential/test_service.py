"""build_differential (gallery + terms -> ranked candidates) and the evaluate-gallery protocol."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dysmorph_desk.differential.evaluate import (
    QueryCase,
    evaluate_cases,
    in_fit_half,
    read_cases,
    summary,
    summary_text,
    unrelated_rates,
)
from dysmorph_desk.differential.service import build_differential
from dysmorph_desk.errors import BundleError, DataError, UsageError
from dysmorph_desk.gallery.model import Gallery
from tests.fakes import bare_result, model_result
from tests.gallery.helpers import SHA, FakeBundle, random_gallery, unit_rows


def _result_with(vector: np.ndarray, sha: str = SHA):
    m = dataclasses.replace(model_result("unit-model"), bundle_sha256=sha, embedding=vector)
    return bare_result(m)


def _vector_of(gallery: Gallery, disorder: str) -> np.ndarray:
    s = gallery.sets[SHA]
    number = next(n for n, e in gallery.entries.items() if e.disorder_id == disorder)
    return s.vector_of(number)


def test_the_photos_own_disorder_ranks_first_and_no_patient_id_leaks():
    g = random_gallery(1)
    diff = build_differential(
        [_result_with(_vector_of(g, "ORPHA:102"))], gallery=g, bundles=[FakeBundle()]
    )
    assert diff.rows[0].disorder_id == "ORPHA:102"
    assert diff.rows[0].gestalt_distance == pytest.approx(0.0, abs=1e-5)
    assert diff.gallery is not None and diff.gallery.entries == len(g.entries)
    text = json.dumps([diff.rows_json(), diff.context_json()])
    assert "SECRET-" not in text


def test_a_visit_uses_the_mean_of_its_photos():
    g = random_gallery(2)
    v = _vector_of(g, "ORPHA:103")
    rng = np.random.default_rng(0)
    noise = unit_rows(rng, 2, v.shape[0])
    photos = [_result_with(v + 0.2 * noise[0]), _result_with(v + 0.2 * noise[1])]
    diff = build_differential(photos, gallery=g, bundles=[FakeBundle()])
    assert diff.photos_used == 2 and diff.rows[0].disorder_id == "ORPHA:103"


def test_terms_alone_rank_annotated_diseases_and_unknown_ids_are_refused():
    diff = build_differential(
        [_result_with(np.ones(16) / 4)], hpo_terms=["HP:0000316", "HP:0000494"]
    )
    assert diff.gallery is None and len(diff.rows) == 10
    assert all(r.phenotype_score is not None and r.in_ontology for r in diff.rows)
    assert [t.id for t in diff.hpo_terms] == ["HP:0000316", "HP:0000494"]
    assert diff.hpo_terms[0].label == "Hypertelorism" and diff.hpo_release
    with pytest.raises(UsageError, match="HP:9999999"):
        build_differential([_result_with(np.ones(16) / 4)], hpo_terms=["HP:9999999"])
    with pytest.raises(UsageError):
        build_differential([_result_with(np.ones(16) / 4)])


def test_a_gallery_of_another_bundle_is_refused():
    g = random_gallery(3)
    with pytest.raises(BundleError, match="not comparable"):
        build_differential(
            [_result_with(np.ones(16) / 4, "9" * 64)],
            gallery=g,
            bundles=[FakeBundle("9" * 64, "other")],
        )


def _cases(g: Gallery, n: int, noise: float, seed: int = 0) -> list[QueryCase]:
    rng = np.random.default_rng(seed)
    disorders = sorted(g.disorders())
    out = []
    for i in range(n):
        d = disorders[i % len(disorders)]
        v = _vector_of(g, d) + noise * rng.normal(size=16)
        out.append(
            QueryCase(f"Q{i}", d, "frequent" if i % 3 else "rare", embedding=v / np.linalg.norm(v))
        )
    return out


def test_evaluation_reports_on_the_half_it_did_not_fit_on():
    g = random_gallery(4, disorders=10)
    cases = _cases(g, 60, 0.05)
    ranks, weights = evaluate_cases(cases, g, FakeBundle(), seed=0)
    assert {r.case.patient_id for r in ranks} == {
        c.patient_id for c in cases if not in_fit_half(c.patient_id, 0)
    }
    assert "separate half" in weights.fitted_on and weights.n_cases == len(cases) - len(ranks)
    assert all(r.gestalt == 1 for r in ranks)  # near copies of a gallery entry
    doc = summary(ranks, weights)
    top1 = doc["rates"]["gestalt"]["all"]["top1"]
    assert top1["k"] == top1["n"] == len(ranks) and top1["ci95"][0] < 1.0
    assert doc["rates"]["phenotype"]["all"]["top1"]["n"] == len(ranks)  # no terms: never ranked
    assert doc["rates"]["phenotype"]["all"]["top1"]["k"] == 0
    assert "not comparable" in summary_text(doc)
    json.dumps(doc, allow_nan=False)


def test_unrelated_children_split_into_calibration_and_test_halves():
    g = random_gallery(5)
    rng = np.random.default_rng(1)
    emb = {f"U{i}": v for i, v in enumerate(unit_rows(rng, 60, 16))}
    out = unrelated_rates(emb, g, FakeBundle(), target=0.1)
    n_cal = sum(in_fit_half(p, 0) for p in emb)
    assert out["calibration_children"] == n_cal and out["false_match_rate"]["n"] == 60 - n_cal
    with pytest.raises(DataError):
        unrelated_rates({"U1": emb["U1"]}, g, FakeBundle())


def test_read_cases_groups_photos_and_keeps_paths_inside(tmp_path):
    (tmp_path / "q.csv").write_text(
        "path,patient_id,disorder_id,frequency,hpo_terms\n"
        "a.jpg,P1,OMIM:100100,rare,HP:0000316;HP:0000494\n"
        "b.jpg,P1,OMIM:100100,rare,HP:0000316;HP:0000494\n"
        "c.jpg,P2,ORPHA:870,frequent,\n"
    )
    cases = read_cases(tmp_path / "q.csv")
    assert [(c.patient_id, len(c.photos), c.terms) for c in cases] == [
        ("P1", 2, ["HP:0000316", "HP:0000494"]),
        ("P2", 1, []),
    ]
    (tmp_path / "bad.csv").write_text("path,patient_id,disorder_id\n../x.jpg,P1,OMIM:100100\n")
    with pytest.raises(DataError, match="leaves the data folder"):
        read_cases(tmp_path / "bad.csv")


def test_without_terms_the_ontology_still_says_which_disorders_are_annotated():
    from dysmorph_desk.phenotype import has_disease

    g = random_gallery(6)
    diff = build_differential(
        [_result_with(_vector_of(g, "ORPHA:100"))], gallery=g, bundles=[FakeBundle()]
    )
    assert any(r.disorder_id.startswith("LOCAL:") for r in diff.rows)
    for r in diff.rows:
        assert r.in_ontology == has_disease(r.disorder_id)
    assert any("unsigned" in n for n in diff.notes)  # nothing vouches for an unsigned gallery
    assert diff.gallery is not None and not diff.gallery.verified


def test_a_verified_gallery_gets_no_signature_warning():
    from dysmorph_desk.gallery.links import resolve_gallery
    from dysmorph_desk.gallery.store import read_gallery

    g = read_gallery(resolve_gallery("demo-syndromes"))  # signed by the built-in demo key
    (s, *_) = g.sets.values()
    bundle = FakeBundle(sha256=s.bundle_sha256, name=s.bundle_name)
    result = _result_with(s.matrix[0], sha=s.bundle_sha256)
    diff = build_differential([result], gallery=g, bundles=[bundle])
    assert diff.gallery is not None and diff.gallery.verified
    assert not any("nothing vouches" in n for n in diff.notes)


def test_evaluation_never_matches_a_query_child_to_itself():
    g = random_gallery(7, disorders=12, max_patients=2)
    patients: dict[str, set[str]] = {}
    for e in g.entries.values():
        patients.setdefault(e.disorder_id, set()).add(e.patient_id)
    number, entry = next(
        (n, e) for n, e in g.entries.items() if len(patients[e.disorder_id]) == 1
    )  # a disorder with a single child: left out, it cannot rank at all
    v = g.sets[SHA].vector_of(number)
    case = QueryCase(entry.patient_id, entry.disorder_id, "frequent", embedding=v)
    twin = QueryCase(entry.patient_id, entry.disorder_id, "rare", "same_patient", embedding=v)
    for seed in range(40):  # a seed that puts both in the report half
        if not in_fit_half(entry.patient_id, seed):
            break
    ranks, _ = evaluate_cases([case], g, FakeBundle(), seed=seed)
    ranks_twin, _ = evaluate_cases([twin], g, FakeBundle(), seed=seed)
    # the same-patient query finds itself at distance 0; the other query cannot
    assert ranks_twin[0].gestalt == 1
    assert ranks[0].gestalt is None
