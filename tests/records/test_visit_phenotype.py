"""A visit's HPO terms and differentials in the case store: filed, read back, edited (audited
without the terms), refused for photos that are not the visit's, deleted with the case, exported,
listed by ``cases show``; and a store written by schema 1 opens, migrates and keeps its cases."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from dysmorph_desk.differential.fusion import DifferentialRow
from dysmorph_desk.differential.result import DifferentialResult, GalleryFacts, HpoTerm
from dysmorph_desk.records import schema
from dysmorph_desk.records.export import case_json
from dysmorph_desk.records.store import CaseStore
from dysmorph_desk.records.visit_phenotype import clean_terms, terms_text
from tests import fakes
from tests.cli_helpers import run as run_cli

TERMS = [("HP:0000316", "Hypertelorism"), ("HP:0000494", "Downslanted palpebral fissures")]


def differential() -> DifferentialResult:
    return DifferentialResult(
        rows=[
            DifferentialRow(
                1, "OMIM:163950", "Noonan syndrome 1", 0.21, ((3, 0.21),), 0.8, 0.7, True
            ),
            DifferentialRow(2, "ORPHA:648", "Other", None, (), 0.5, 0.4, True),
        ],
        gallery=GalleryFacts("ab" * 32, 7, 7, "demo-gestalt"),
        hpo_terms=[HpoTerm(i, label) for i, label in TERMS],
        hpo_release="2024-04-26",
        nearest_distance=0.21,
    )


def _file(store: CaseStore, n_photos: int = 1, **kw):
    c = fakes.case("P-0017")
    photos = []
    for _ in range(n_photos):
        data = fakes.photo_bytes()
        photos.append((data, fakes.result(data, c)))
    uids = store.file_screening(c, photos, None, "Dr A", **kw)
    return uids, [r.photo_sha256 for _, r in photos]


def test_terms_and_differential_are_filed_with_the_visit(store_path):
    diff = differential()
    with CaseStore(store_path) as store:
        (case_uid, _), shas = _file(store, 2, hpo_terms=TERMS, differential=diff)
        (visit,) = store.get_case(case_uid).visits
        audit = [(e.action, e.detail) for e in store.audit_log(case_uid)]
    assert visit.hpo_terms == [{"id": i, "label": label} for i, label in TERMS]
    (filed,) = visit.differentials
    assert filed.result["photos"] == shas
    assert filed.result["differential"] == diff.rows_json()
    assert filed.result["differential_context"] == diff.context_json()
    assert ("screened", f"differential of visit {visit.uid}") in audit
    assert not any("HP:" in detail for _, detail in audit)  # the audit never holds the terms


def test_a_visit_without_terms_has_none(store_path):
    with CaseStore(store_path) as store:
        (case_uid, _), _ = _file(store)
        (visit,) = store.get_case(case_uid).visits
    assert visit.hpo_terms == [] and visit.differentials == []
    assert visit.to_json()["hpo_terms"] == [] and visit.to_json()["differentials"] == []


def test_editing_terms_is_audited_without_them_and_unchanged_terms_are_not(store_path):
    with CaseStore(store_path) as store:
        (case_uid, visit_uid), _ = _file(store, hpo_terms=TERMS[:1])
        assert not store.set_visit_terms(
            visit_uid, [{"id": "HP:0000316", "label": "Hypertelorism"}]
        )
        assert store.set_visit_terms(visit_uid, TERMS, "Dr B")
        (visit,) = store.get_case(case_uid).visits
        edits = [e for e in store.audit_log(case_uid) if e.action == "edited"]
    assert [t["id"] for t in visit.hpo_terms] == ["HP:0000316", "HP:0000494"]
    assert [(e.operator, e.detail) for e in edits] == [("Dr B", f"HPO terms of visit {visit_uid}")]


def test_a_differential_of_other_photos_is_refused_and_nothing_is_filed(store_path):
    with CaseStore(store_path) as store:
        (case_uid, visit_uid), shas = _file(store, 2)
        with pytest.raises(ValueError, match=r"1 photo\(s\), 1 of them among this visit's 2"):
            store.add_differential(visit_uid, differential(), shas[:1])  # one of two photos
        other = hashlib.sha256(b"another child").hexdigest()
        with pytest.raises(ValueError, match="not this visit's"):
            store.add_differential(visit_uid, differential(), [*shas, other])
        with pytest.raises(ValueError, match="SHA-256"):
            store.add_differential(visit_uid, differential(), [])
        assert store.get_case(case_uid).visits[0].differentials == []
        store.add_differential(visit_uid, differential(), list(reversed(shas)))  # any order
        store.add_differential(visit_uid, differential(), shas)  # ranked again: a new row
        assert len(store.get_case(case_uid).visits[0].differentials) == 2


def test_a_bad_differential_rolls_the_whole_filing_back(store_path):
    class Broken:
        def rows_json(self):
            return [{"combined_score": float("nan")}]  # strict JSON refuses it

        def context_json(self):
            return {}

    with CaseStore(store_path) as store, pytest.raises(ValueError):
        _file(store, differential=Broken())
    with CaseStore(store_path) as store:
        assert store.find_cases() == []


def test_terms_are_checked_and_cleaned():
    assert clean_terms([("HP:0000316", " Hyper\x1btelorism "), ("HP:0000316", "again")]) == [
        {"id": "HP:0000316", "label": "Hypertelorism"}
    ]
    for bad in ("hp:0000316", "HP:316", "OMIM:163950", "HP:0000316; DROP"):
        with pytest.raises(ValueError, match="not an HPO term id"):
            clean_terms([(bad, "x")])
    with pytest.raises(ValueError, match="at most 100"):
        clean_terms([(f"HP:{i:07d}", "") for i in range(101)])
    assert terms_text(clean_terms(TERMS)) == (
        "HP:0000316 Hypertelorism; HP:0000494 Downslanted palpebral fissures"
    )


def test_deleting_the_case_deletes_its_terms_and_differentials(store_path):
    with CaseStore(store_path) as store:
        (case_uid, _), _ = _file(store, hpo_terms=TERMS, differential=differential())
        store.delete_case(case_uid)
    conn = sqlite3.connect(store_path / "cases.sqlite")
    try:
        assert conn.execute("SELECT COUNT(*) FROM differentials").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 0
    finally:
        conn.close()


def test_the_case_json_export_carries_terms_and_differentials(store_path):
    with CaseStore(store_path) as store:
        (case_uid, _), shas = _file(store, hpo_terms=TERMS, differential=differential())
        doc = json.loads(case_json(store.get_case(case_uid)))
    (visit,) = doc["case"]["visits"]
    assert visit["hpo_terms"][1] == {"id": "HP:0000494", "label": "Downslanted palpebral fissures"}
    (diff,) = visit["differentials"]
    assert diff["photos"] == shas and diff["differential"][0]["disorder_id"] == "OMIM:163950"
    assert "screening aid, not a diagnosis" in diff["differential_context"]["disclaimer"]


def test_cases_show_lists_the_terms_and_the_stored_differential(store_path, capsys):
    with CaseStore(store_path) as store:
        (case_uid, _), _ = _file(store, hpo_terms=TERMS, differential=differential())
    code, out, _err = run_cli(capsys, "cases", "show", case_uid, "--store-path", str(store_path))
    assert code == 0
    assert "HPO terms: HP:0000316 Hypertelorism; HP:0000494 Downslanted palpebral fissures" in out
    assert "differential" in out and "1. Noonan syndrome 1 (OMIM:163950)" in out
    code, out, _err = run_cli(
        capsys, "cases", "show", case_uid, "--json", "--store-path", str(store_path)
    )
    assert json.loads(out)["visits"][0]["hpo_terms"][0]["id"] == "HP:0000316"


# -- a store written by schema version 1 ---------------------------------------------------------


def _version_1_store(folder: Path) -> tuple[str, str, str]:
    """A store exactly as schema 1 left it: its tables, one case, visit, photo, result, visit
    result, export and audit row (the rows the version-1 store code wrote)."""
    folder.mkdir(parents=True)
    (folder / "photos").mkdir()
    conn = sqlite3.connect(folder / "cases.sqlite", isolation_level=None)
    try:
        conn.execute("BEGIN")
        for statement in schema.statements(schema.MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
        case_uid, visit_uid, sha = "c" * 32, "d" * 32, hashlib.sha256(b"photo").hexdigest()
        when = "2024-05-01T10:00:00+00:00"
        conn.execute(
            "INSERT INTO cases (uid, patient_id, sex, created) VALUES (?, 'P-OLD', 'male', ?)",
            (case_uid, when),
        )
        conn.execute(
            "INSERT INTO visits (uid, case_id, date, age_months, operator, notes, study_uid,"
            " created) VALUES (?, 1, '2024-05-01', 30.0, 'Dr A', 'old notes', '2.25.1', ?)",
            (visit_uid, when),
        )
        conn.execute(
            "INSERT INTO photos (visit_id, sha256, file, added) VALUES (1, ?, NULL, ?)", (sha, when)
        )
        result = json.dumps({"photo_sha256": sha, "results": [{"model": "demo", "flagged": True}]})
        conn.execute(
            "INSERT INTO results (photo_id, bundle_name, bundle_sha256, result_json, created)"
            " VALUES (1, 'demo', ?, ?, ?)",
            ("e" * 64, result, when),
        )
        conn.execute(
            "INSERT INTO visit_results (visit_id, result_json, created) VALUES (1, '{}', ?)",
            (when,),
        )
        conn.execute(
            "INSERT INTO exports (visit_id, kind, path, sha256, created)"
            " VALUES (1, 'pdf', '/r.pdf', ?, ?)",
            ("f" * 64, when),
        )
        conn.execute(
            "INSERT INTO audit (ts, operator, action, case_uid) VALUES (?, 'Dr A', 'created', ?)",
            (when, case_uid),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return case_uid, visit_uid, sha


def test_a_schema_1_store_opens_migrates_and_keeps_everything(store_path):
    case_uid, visit_uid, sha = _version_1_store(store_path)
    with CaseStore(store_path) as store:
        record = store.get_case(case_uid)
        (visit,) = record.visits
        assert (record.patient_id, visit.notes, visit.photos[0].sha256) == (
            "P-OLD",
            "old notes",
            sha,
        )
        assert visit.photos[0].results[0].result["results"][0]["flagged"] is True
        assert [e.kind for e in visit.exports] == ["pdf"] and len(visit.visit_results) == 1
        assert visit.hpo_terms == [] and visit.differentials == []  # none filed back then
        assert store.set_visit_terms(visit_uid, TERMS[:1], "Dr B")
        store.add_differential(visit_uid, differential(), [sha], "Dr B")
        (visit,) = store.get_case(case_uid).visits
        assert visit.hpo_terms == [{"id": "HP:0000316", "label": "Hypertelorism"}]
        assert len(visit.differentials) == 1
        assert [e.action for e in store.audit_log(case_uid)] == ["created", "edited", "screened"]
    conn = sqlite3.connect(store_path / "cases.sqlite")
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert int(version[0]) == schema.SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    with CaseStore(store_path) as store:  # opened again: nothing to migrate, nothing lost
        assert store.get_case(case_uid).visits[0].hpo_terms[0]["id"] == "HP:0000316"
