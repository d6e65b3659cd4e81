"""``screen --gallery/--hpo/--phenopacket``: the differential from the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.cli_helpers import run

SCHEMA = Path(__file__).parents[2] / "docs" / "schema" / "screening-v2.schema.json"


def test_terms_alone_give_a_differential_in_every_output(capsys, tmp_path, test_bundle, portraits):
    out = tmp_path / "r.json"
    pdf = tmp_path / "r.pdf"
    pp = tmp_path / "r.phenopacket.json"
    code, stdout, _ = run(
        capsys,
        "screen",
        portraits["grace_hopper"],
        "--model",
        test_bundle,
        "--cam",
        "none",
        "--hpo",
        "HP:0000316,HP:0000494",
        "--hpo",
        "HP:0001249",
        "--json",
        out,
        "--report",
        pdf,
        "--phenopacket",
        pp,
    )
    assert code == 0, stdout
    assert "differential (candidates to consider" in stdout
    doc = json.loads(out.read_text())
    rows = doc["differential"]
    assert len(rows) == 10 and rows[0]["rank"] == 1 and rows[0]["phenotype_score"] > 0
    ctx = doc["differential_context"]
    assert [t["id"] for t in ctx["hpo_terms"]] == ["HP:0000316", "HP:0000494", "HP:0001249"]
    assert ctx["gallery"] is None and ctx["hpo_release"]
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8"))).validate(doc)
    packet = json.loads(pp.read_text())
    assert packet["phenotypicFeatures"][0]["type"]["id"] == "HP:0000316"
    assert packet["interpretations"][0]["progressStatus"] == "IN_PROGRESS"
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Differential" in text and "Hypertelorism" in text


def _no_models(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("no model may load before the inputs are checked")

    monkeypatch.setattr("dysmorph_desk.cli.screen._load_screener", refuse)


def test_bad_inputs_are_refused_before_any_model_loads(capsys, tmp_path, monkeypatch, portraits):
    _no_models(monkeypatch)
    photo = portraits["grace_hopper"]
    code, _, err = run(capsys, "screen", photo, "--hpo", "HP:9999999")
    assert code == 2 and "HP:9999999" in err and "Traceback" not in err
    code, _, err = run(capsys, "screen", photo, photo, "--hpo", "HP:0000316")
    assert code == 2 and "--visit" in err
    code, _, err = run(capsys, "screen", photo, "--phenopacket", tmp_path / "p.json")
    assert code == 2 and "--gallery or --hpo" in err
    damaged = tmp_path / "bad.ddgallery"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    code, _, err = run(capsys, "screen", photo, "--gallery", damaged)
    assert code == 4 and len(err.strip().splitlines()) == 1


def test_a_gallery_ranks_the_childs_own_disorder_first(capsys, tmp_path, test_bundle, portraits):
    gallery = tmp_path / "g.ddgallery"
    photo = portraits["grace_hopper"]
    code, _, err = run(
        capsys,
        "gallery",
        "add",
        gallery,
        "--model",
        test_bundle,
        "--disorder",
        "ORPHA:870",
        "--name",
        "Down syndrome",
        "--patient",
        "SECRET-P1",
        photo,
    )
    assert code == 0, err
    code, _, err = run(
        capsys,
        "gallery",
        "add",
        gallery,
        "--model",
        test_bundle,
        "--disorder",
        "LOCAL:fam-2",
        "--name",
        "Family 2",
        "--patient",
        "SECRET-P2",
        portraits["astronaut"],
    )
    assert code == 0, err
    out = tmp_path / "r.json"
    code, stdout, err = run(
        capsys,
        "screen",
        photo,
        "--model",
        test_bundle,
        "--cam",
        "none",
        "--gallery",
        gallery,
        "--json",
        out,
    )
    assert code == 0, err
    rows = json.loads(out.read_text())["differential"]
    assert rows[0]["disorder_id"] == "ORPHA:870" and rows[0]["gestalt_distance"] < 1e-3
    assert {r["disorder_id"] for r in rows} == {"ORPHA:870", "LOCAL:fam-2"}
    assert "SECRET" not in out.read_text() and "SECRET" not in stdout


def test_the_store_keeps_the_terms_and_the_differential(capsys, tmp_path, test_bundle, portraits):
    store = tmp_path / "store"
    code, _, err = run(
        capsys,
        "screen",
        portraits["grace_hopper"],
        "--model",
        test_bundle,
        "--cam",
        "none",
        "--no-report",
        "--patient-id",
        "P-0042",
        "--hpo",
        "HP:0000316",
        "--store-path",
        store,
    )
    assert code == 0, err
    code, out, err = run(capsys, "cases", "show", "--patient-id", "P-0042", "--store-path", store)
    assert code == 0, err
    assert "HP:0000316" in out and "Hypertelorism" in out


def test_a_disorder_id_in_no_annotation_is_refused(capsys, tmp_path, test_bundle, portraits):
    gallery = tmp_path / "g.ddgallery"
    code, _, err = run(
        capsys, "gallery", "add", gallery, "--model", test_bundle, "--disorder", "OMIM:999999",
        "--patient", "P1", portraits["grace_hopper"],
    )  # fmt: skip
    assert code == 2 and "OMIM:999999 is in no disease annotation" in err
    assert "LOCAL:" in err and not gallery.exists()


def test_a_gallery_of_other_models_and_out_dir_are_refused_before_loading(
    capsys, tmp_path, monkeypatch, test_bundle, portraits
):
    gallery = tmp_path / "g.ddgallery"
    photo = portraits["grace_hopper"]
    code, _, err = run(
        capsys, "gallery", "add", gallery, "--model", test_bundle, "--disorder", "ORPHA:870",
        "--patient", "P1", photo,
    )  # fmt: skip
    assert code == 0, err
    _no_models(monkeypatch)
    code, _, err = run(capsys, "screen", photo, "--model", "demo-resnet18", "--gallery", gallery)
    assert code == 4 and "not comparable" in err
    code, _, err = run(capsys, "screen", photo, "--hpo", "HP:0000316", "--out-dir", tmp_path / "o")
    assert code == 2 and "--visit" in err
