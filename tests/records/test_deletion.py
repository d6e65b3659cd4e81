"""Deleting a case: rows, photo files, cached faces and registered deleters; the audit stays."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.records.deleters import register_deleter, unregister_deleter
from dysmorph_desk.records.store import CaseStore
from dysmorph_desk.utils import paths
from tests import fakes

PATIENT = "PSEUDO-4711"


def _cache_faces(sha: str) -> list:
    """What ``training.facecache`` writes for a photo: an aligned PNG and a remembered refusal."""
    prefix = paths.face_cache_prefix(sha)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    files = [
        prefix.parent / f"{prefix.name}_ffhq_112.png",
        prefix.parent / f"{prefix.name}_ffhq_224_refuse-blur.refused",
    ]
    for f in files:
        f.write_bytes(b"cached")
    return files


def test_facecache_keys_share_the_prefix():
    pytest.importorskip("cv2")
    from dysmorph_desk.training import facecache

    sha = "ab" * 32
    key = facecache._key(sha, 112, ("blur",))
    assert str(key).startswith(str(paths.face_cache_prefix(sha)) + "_")
    key.with_suffix(".png").parent.mkdir(parents=True, exist_ok=True)
    key.with_suffix(".png").write_bytes(b"x")
    assert paths.face_cache_files(sha) == [key.with_suffix(".png")]


def test_deleting_a_case_erases_it_everywhere(store_path):
    calls = []

    def gallery(case_uid: str, shas: list[str]) -> None:
        calls.append((case_uid, shas))

    register_deleter(gallery)
    try:
        a, b, other = fakes.photo_bytes(), fakes.photo_bytes(), fakes.photo_bytes()
        c = fakes.case(PATIENT, notes="remark about the family")
        with CaseStore(store_path) as store:
            uid, visit_uid = store.file_screening(
                c, [(a, fakes.result(a, c)), (b, fakes.result(b, c))], {"fused": 1}, "Dr A"
            )
            store.add_export(visit_uid, "pdf", f"/reports/{PATIENT}.pdf", "cd" * 32, "Dr A")
            c2 = fakes.case("KEEP-1")
            keep_uid, _ = store.file_screening(c2, [(other, fakes.result(other, c2))], None)
            shas = sorted(hashlib.sha256(x).hexdigest() for x in (a, b))
            cached = [f for s in shas for f in _cache_faces(s)]
            files = [store.photo_path(p) for p in store.get_case(uid).photos]
            assert all(f.is_file() for f in files)

            report = store.delete_case(uid, "Dr B")

            assert (report.visits, report.photos, report.files_removed) == (1, 2, 2)
            assert report.cache_files_removed == 4 and report.problems == ()
            assert not any(f.exists() for f in files + cached)
            assert calls == [(uid, shas)]
            with pytest.raises(UsageError):
                store.get_case(uid)
            assert [s.uid for s in store.find_cases()] == [keep_uid]
            last = store.audit_log(uid)[-1]
            assert (last.action, last.case_uid, last.operator) == ("deleted", uid, "Dr B")
            with pytest.raises(UsageError):
                store.delete_case(uid)
        conn = sqlite3.connect(store_path / "cases.sqlite")
        for table in ("visits", "photos", "results", "visit_results", "exports"):
            (n,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            assert n == (0 if table in ("visit_results", "exports") else 1), table
        audit = conn.execute("SELECT * FROM audit").fetchall()
        conn.close()
        assert PATIENT not in repr(audit) and "family" not in repr(audit)
        # secure_delete and the WAL checkpoint: the patient's bytes are gone from the files too
        for f in store_path.glob("cases.sqlite*"):
            data = f.read_bytes()
            assert PATIENT.encode() not in data and b"remark about" not in data, f.name
    finally:
        unregister_deleter(gallery)


def test_a_photo_shared_with_another_case_stays(store_path):
    data = fakes.photo_bytes()
    with CaseStore(store_path) as store:
        c1, c2 = fakes.case("A-1"), fakes.case("B-2")
        uid1, _ = store.file_screening(c1, [(data, fakes.result(data, c1))], None)
        uid2, _ = store.file_screening(c2, [(data, fakes.result(data, c2))], None)
        path = store.photo_path(store.get_case(uid2).photos[0])
        report = store.delete_case(uid1)
        assert report.files_removed == 0 and path.is_file()
        store.delete_case(uid2)
        assert not path.exists()


def test_a_failing_deleter_is_reported_not_fatal(store_path, caplog):
    def broken(case_uid: str, shas: list[str]) -> None:
        raise RuntimeError("gallery offline")

    register_deleter(broken)
    try:
        with CaseStore(store_path) as store:
            data = fakes.photo_bytes()
            c = fakes.case(PATIENT)
            uid, _ = store.file_screening(c, [(data, fakes.result(data, c))], None)
            report = store.delete_case(uid)
        assert report.problems and "broken" in report.problems[0]
        assert PATIENT not in caplog.text
    finally:
        unregister_deleter(broken)


def test_logs_never_name_the_patient(store_path, caplog):
    caplog.set_level("DEBUG")
    with CaseStore(store_path) as store:
        data = fakes.photo_bytes()
        c = fakes.case(PATIENT)
        uid, visit_uid = store.file_screening(c, [(data, fakes.result(data, c))], None)
        store.update_visit_notes(visit_uid, "n", "Dr A")
        store.delete_case(uid)
    assert uid in caplog.text and PATIENT not in caplog.text
