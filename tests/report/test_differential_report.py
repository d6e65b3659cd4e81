"""The report's Differential table and the JSON's differential fields."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from dysmorph_desk.differential.fusion import GestaltEvidence, PhenotypeEvidence, fuse
from dysmorph_desk.differential.result import DifferentialResult, GalleryFacts, HpoTerm
from dysmorph_desk.report.render import report_bytes
from dysmorph_desk.screening.document import screening_document
from tests.fakes import model_result, screening_result

SCHEMA = Path(__file__).parents[2] / "docs" / "schema" / "screening-v2.schema.json"


def _differential(threshold: float = 0.5, nearest: float = 0.2) -> DifferentialResult:
    gestalt = [
        GestaltEvidence("ORPHA:870", "Down syndrome", nearest, ((12, nearest), (3, 0.31))),
        GestaltEvidence("LOCAL:clinic-7", "Unnamed local syndrome", 0.4, ((5, 0.4),)),
    ]
    pheno = PhenotypeEvidence(
        ["ORPHA:870", "OMIM:147920"], ["Down syndrome", "Kabuki syndrome"], np.array([2.5, 1.2])
    )
    return DifferentialResult(
        rows=fuse(gestalt, pheno),
        gallery=GalleryFacts(
            "c" * 64,
            40,
            9,
            "demo-gallery-bundle",
            threshold=threshold,
            false_match_k=3,
            false_match_n=60,
        ),
        hpo_terms=[
            HpoTerm("HP:0000316", "Hypertelorism"),
            HpoTerm("HP:0000494", "Downslanted palpebral fissures", entered_as="HP:0000495"),
        ],
        hpo_release="2025-01-01",
        nearest_distance=nearest,
    )


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_the_table_lists_candidates_terms_and_the_gallery_but_no_patient_ids():
    result = screening_result([model_result()])
    text = _text(report_bytes(result, differential=_differential()))
    assert "Differential" in text and "Down syndrome" in text
    assert "HP:0000316" in text and "Hypertelorism" in text
    assert "#12" in text and "cccccccccccccccc" in text and "40 entries" in text
    assert "local id" in text.replace("\n", " ")
    assert "not a diagnosis" in text
    assert "No close match" not in text


def test_no_close_match_is_said():
    result = screening_result([model_result()])
    text = _text(report_bytes(result, differential=_differential(threshold=0.1, nearest=0.3)))
    assert "No close match" in text


def test_the_json_carries_the_differential_and_validates():
    jsonschema = pytest.importorskip("jsonschema")
    doc = screening_document([screening_result([model_result()])], differential=_differential())
    json.dumps(doc, allow_nan=False)
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8"))).validate(doc)
    rows = doc["differential"]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["disorder_id"] == "ORPHA:870"
    ctx = doc["differential_context"]
    assert ctx["gallery"]["false_match_rate"]["n"] == 60
    assert ctx["hpo_terms"][1]["entered_as"] == "HP:0000495"
    assert "patient" not in json.dumps(rows)


def test_the_note_states_the_k_that_mean_k_averaged():
    from dataclasses import replace

    diff = _differential()
    assert diff.gallery is not None
    mean5 = replace(diff, gallery=replace(diff.gallery, aggregate="mean-k", k=5))
    text = _text(report_bytes(screening_result([model_result()]), differential=mean5))
    assert "mean of the disorder's 5 nearest" in " ".join(text.split())


def test_the_false_match_rate_says_how_it_was_counted():
    """Leave-one-out (the estimate for a new child) or, for an older gallery, in-sample."""
    from dataclasses import replace

    jsonschema = pytest.importorskip("jsonschema")
    diff = _differential(threshold=0.1, nearest=0.3)
    assert diff.gallery is not None
    loo = replace(diff, gallery=replace(diff.gallery, false_match_estimate="leave-one-out"))
    for d, phrase, estimate in (
        (diff, "in-sample, so optimistic", "in-sample"),
        (loo, "each against a threshold set without it", "leave-one-out"),
    ):
        text = " ".join(
            _text(report_bytes(screening_result([model_result()]), differential=d)).split()
        )
        assert phrase in text and "5.0% (95% CI 1–13.9%, n = 60)" in text
        doc = screening_document([screening_result([model_result()])], differential=d)
        jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8"))).validate(doc)
        rate = doc["differential_context"]["gallery"]["false_match_rate"]
        assert rate["estimate"] == estimate and rate["k"] == 3 and rate["n"] == 60
        assert rate["in_sample"] is (estimate == "in-sample")
