"""JSON schema 2: one object whatever the photo count, valid against docs/schema, strict JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dysmorph_desk.cli import main

jsonschema = pytest.importorskip("jsonschema")
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "schema" / "screening-v2.schema.json").read_text("utf-8")
)


def _strict(text: str):
    def refuse(token: str):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


def _valid(doc) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_one_photo_a_batch_and_a_visit_all_validate(tmp_path, capsys, test_bundle, portraits):
    grace, astro = portraits["grace_hopper"], portraits["astronaut"]
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image")
    base = ["screen", "--model", str(test_bundle), "--cam", "none", "--age", "60"]

    assert main([*base, str(grace), "--json", str(tmp_path / "one.json")]) == 0
    one = _strict((tmp_path / "one.json").read_text("utf-8"))
    _valid(one)
    assert len(one["photos"]) == 1 and one["visit"] is None

    capsys.readouterr()
    assert main([*base, str(grace), str(garbage), str(astro), "--json", "-"]) == 3
    batch = _strict(capsys.readouterr().out)
    _valid(batch)
    assert len(batch["photos"]) == 2 and batch["refused"] == [
        {"photo": 2, "reason": batch["refused"][0]["reason"]}
    ]
    assert "garbage" not in json.dumps(batch)  # refused photos by position, not by name

    pdf = tmp_path / "visit.pdf"
    code = main([*base, str(grace), str(astro), "--visit", "--json", str(tmp_path / "v.json")])
    assert code == 0
    visit_doc = _strict((tmp_path / "v.json").read_text("utf-8"))
    _valid(visit_doc)
    assert visit_doc["visit"]["photos"] == 2
    assert visit_doc["visit"]["results"][0]["photos_total"] == 2
    code = main([*base, str(grace), str(astro), "--visit", "--report", str(pdf)])
    assert code == 0
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() or "" for p in PdfReader(str(pdf)).pages)
    assert "Visit result (2 photos)" in text and "Photo 2 of 2" in text
    assert "Photo 1 SHA-256" in text and "Photo 2 SHA-256" in text


def test_several_photos_need_visit_or_out_dir_for_one_file(
    tmp_path, capsys, test_bundle, portraits
):
    grace = portraits["grace_hopper"]
    copy = tmp_path / "b.jpg"
    shutil.copy(grace, copy)
    code = main(["screen", str(grace), str(copy), "--model", str(test_bundle), "--report", "r.pdf"])
    assert code == 2
    assert "--visit" in capsys.readouterr().err


def test_the_json_ppv_range_uses_the_clinics_prevalence(tmp_path, test_bundle, portraits):
    out = tmp_path / "p.json"
    argv = ["screen", str(portraits["grace_hopper"]), "--model", str(test_bundle), "--cam", "none"]
    assert main([*argv, "--json", str(out), "--prevalence", "0.2"]) == 0
    validation = _strict(out.read_text("utf-8"))["photos"][0]["results"][0]["validation"]
    assert validation["prevalence"] == 0.2
