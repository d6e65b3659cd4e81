"""The case store: schema, permissions, filing, no overwrites, refusals that change nothing."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from dysmorph_desk.errors import StoreError, UsageError
from dysmorph_desk.records import db
from dysmorph_desk.records.schema import SCHEMA_VERSION
from dysmorph_desk.records.store import CaseStore, photo_extension
from tests import fakes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _raw(store_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(store_path / "cases.sqlite", isolation_level=None)


def _count(store_path: Path, table: str) -> int:
    conn = _raw(store_path)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _file_one(store: CaseStore, patient: str = "P-0017", keep: bool = True):
    data = fakes.photo_bytes()
    c = fakes.case(patient)
    uids = store.file_screening(c, [(data if keep else None, fakes.result(data, c))], None, "Dr A")
    return uids, data


def test_new_store_is_private_and_versioned(store_path):
    with CaseStore(store_path) as store:
        (_case_uid, _), data = _file_one(store)
        assert store.journal_note is None
    sha = hashlib.sha256(data).hexdigest()
    photo = store_path / "photos" / sha[:2] / f"{sha}.jpg"
    assert photo.read_bytes() == data
    assert _mode(store_path) == 0o700
    assert _mode(store_path / "cases.sqlite") == 0o600
    assert _mode(store_path / "photos") == 0o700
    assert _mode(photo.parent) == 0o700
    assert _mode(photo) == 0o600
    conn = _raw(store_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION == 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "meta",
        "cases",
        "visits",
        "photos",
        "results",
        "visit_results",
        "exports",
        "audit",
    } <= (tables)
    conn.close()


def test_default_location_is_the_data_folder():
    from dysmorph_desk.utils import paths

    with CaseStore() as store:
        assert store.path == paths.store_dir() == paths.data_dir() / "store"
    assert (paths.store_dir() / "cases.sqlite").is_file()


def test_filing_reads_back(store_path):
    a, b = fakes.photo_bytes(), fakes.photo_bytes()
    c = fakes.case("P-0017", notes="first visit")
    with CaseStore(store_path) as store:
        case_uid, visit_uid = store.file_screening(
            c,
            [(a, fakes.result(a, c, ("demo", "other"))), (None, fakes.result(b, c, prob=0.2))],
            {"fused": {"demo": 0.61}},
            "Dr A",
            date="2024-05-01",
        )
        record = store.get_case(case_uid)
        (visit,) = record.visits
        assert (record.patient_id, record.sex, visit.uid, visit.date) == (
            "P-0017",
            "female",
            visit_uid,
            "2024-05-01",
        )
        assert (visit.age_months, visit.notes) == (30.0, "first visit")
        assert visit.study_uid.startswith("2.25.") and int(visit.study_uid[5:]) > 0
        first, second = visit.photos
        assert first.sha256 == hashlib.sha256(a).hexdigest()
        assert store.photo_path(first).read_bytes() == a
        assert second.file is None and store.photo_path(second) is None  # hash only
        assert [r.bundle_name for r in first.results] == ["demo", "other"]
        doc = first.results[0].result
        assert doc["photo_sha256"] == first.sha256
        assert [m["model"] for m in doc["results"]] == ["demo"]
        assert second.results[0].result["results"][0]["flagged"] is False
        assert visit.visit_results[0].result == {"fused": {"demo": 0.61}}
        actions = [(e.action, e.photo_sha256) for e in store.audit_log(case_uid)]
        assert actions == [
            ("created", None),
            ("screened", first.sha256),
            ("screened", first.sha256),
            ("screened", second.sha256),
        ]
        json.dumps(record.to_json(), allow_nan=False)
    assert list((store_path / "photos").rglob("*.jpg")) == [store_path / "photos" / first.file]


def test_a_case_is_reused_only_on_an_exact_match(store_path):
    with CaseStore(store_path) as store:
        uid = store.open_or_create_case(fakes.case("P-1", "female"))
        assert store.open_or_create_case(fakes.case("P-1", "female")) == uid
        assert store.open_or_create_case(fakes.case("P-1", "male")) != uid
        assert store.open_or_create_case(fakes.case("p-1", "female")) != uid
        assert store.open_or_create_case(fakes.case("P-1 ", "female")) == uid  # cleaned: stripped
        assert store.open_or_create_case(fakes.case("", "female")) != store.open_or_create_case(
            fakes.case("", "female")
        )
        (c1,) = [s for s in store.cases_for_patient("P-1") if s.sex == "female"]
        assert c1.uid == uid


def test_rescreening_adds_rows_and_changes_none(store_path):
    with CaseStore(store_path) as store:
        (case_uid, _visit_uid), data = _file_one(store)
        photo = store.get_case(case_uid).photos[0]
        before = photo.results[0]
        store.add_result(photo.id, "demo", "ab" * 32, {"again": True}, "Dr B")
        after = store.get_case(case_uid).photos[0].results
        assert after[0] == before and after[1].result == {"again": True}
        # the same photo filed again: a second row, one shared file
        c = fakes.case("P-0017")
        store.file_screening(c, [(data, fakes.result(data, c))], None)
        record = store.get_case(case_uid)
        assert len(record.visits) == 2 and {p.file for p in record.photos} == {photo.file}
    assert len(list((store_path / "photos").rglob("*.jpg"))) == 1


def test_audit_rows_cannot_be_changed_or_removed(store_path):
    with CaseStore(store_path) as store:
        _file_one(store)
    conn = _raw(store_path)
    n = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET operator = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == n
    conn.close()


def test_a_failed_filing_leaves_nothing(store_path):
    a, b = fakes.photo_bytes(), fakes.photo_bytes()
    c = fakes.case()
    bad = fakes.result(b, c)
    bad.results[0].syndromic_probability = math.nan  # strict JSON refuses it
    with CaseStore(store_path) as store:
        with pytest.raises(ValueError):
            store.file_screening(c, [(a, fakes.result(a, c)), (b, bad)], None)
        assert store.find_cases() == [] and store.audit_log() == []
    assert [p for p in (store_path / "photos").rglob("*") if p.is_file()] == []


def test_photo_bytes_must_match_their_hash(store_path):
    with CaseStore(store_path) as store:
        (_case_uid, visit_uid), _ = _file_one(store)
        with pytest.raises(ValueError):
            store.add_photo(visit_uid, b"\xff\xd8\xffabc", "00" * 32, True)
        with pytest.raises(ValueError):
            store.add_photo(visit_uid, None, "not-a-hash", False)
        with pytest.raises(UsageError):
            store.add_photo("nope", None, "00" * 32, False)


def test_newer_schema_is_refused_untouched(store_path):
    with CaseStore(store_path) as store:
        _file_one(store)
    conn = _raw(store_path)
    conn.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    conn.close()
    before = _snapshot(store_path)
    with pytest.raises(StoreError, match=r"newer DysmorphDesk \(schema 7\); update the app"):
        CaseStore(store_path)
    assert _snapshot(store_path) == before


@pytest.mark.parametrize("damage", ["garbage", "page"])
def test_a_damaged_store_is_refused_untouched(store_path, damage):
    with CaseStore(store_path) as store:
        for i in range(30):
            _file_one(store, f"P-{i}")
    db_file = store_path / "cases.sqlite"
    if damage == "garbage":
        db_file.write_bytes(b"this is not a database " * 200)
    else:  # a b-tree page in the middle overwritten
        with db_file.open("r+b") as fh:
            fh.seek(4096 * 3)
            fh.write(b"\xff" * 4096)
    before = _snapshot(store_path)
    with pytest.raises(StoreError, match=r"damaged \(PRAGMA integrity_check failed\)"):
        CaseStore(store_path)
    assert _snapshot(store_path) == before


def test_another_sqlite_file_is_refused(store_path):
    store_path.mkdir()
    conn = _raw(store_path)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a DysmorphDesk case store"):
        CaseStore(store_path)


def test_read_only_store_is_refused_untouched(store_path, read_only):
    with CaseStore(store_path) as store:
        _file_one(store)
    before = _snapshot(store_path)
    with read_only(store_path):
        with pytest.raises(StoreError, match="the case store is read-only"):
            CaseStore(store_path)
        assert _snapshot(store_path) == before


def test_a_store_turned_read_only_files_nothing(store_path, read_only):
    with CaseStore(store_path) as store:
        _file_one(store)
        with read_only(store_path), pytest.raises(StoreError, match="read-only"):
            _file_one(store, "P-new")
        assert [s.patient_id for s in store.find_cases()] == ["P-0017"]
    assert _count(store_path, "photos") == 1
    assert len([p for p in (store_path / "photos").rglob("*") if p.is_file()]) == 1


@pytest.mark.parametrize("keep", [True, False])
def test_full_disk_is_refused_and_the_store_stays_whole(tiny_disk, keep):
    folder = tiny_disk / "store"
    filed = 0
    with CaseStore(folder) as store, pytest.raises(StoreError) as err:
        for i in range(1000):
            data = fakes.photo_bytes(20_000)
            c = fakes.case(f"P-{i}", notes="x" * 3000)
            store.file_screening(
                c, [(data if keep else None, fakes.result(data, c))], {"pad": "y" * 8000}
            )
            filed += 1
    assert str(err.value) == "the disk holding the case store is full"
    assert filed > 0
    conn = _raw(folder)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == filed
    named = {r[0] for r in conn.execute("SELECT file FROM photos WHERE file IS NOT NULL")}
    conn.close()
    on_disk = {
        p.relative_to(folder / "photos").as_posix()
        for p in (folder / "photos").rglob("*")
        if p.is_file()
    }
    assert on_disk == named and len(named) == (filed if keep else 0)


def test_orphan_files_are_collected_on_open(store_path):
    with CaseStore(store_path) as store:
        _, _data = _file_one(store)
    kept = next((store_path / "photos").rglob("*.jpg"))
    stray = store_path / "photos" / "ff" / ("ff" * 32 + ".jpg")
    stray.parent.mkdir()
    stray.write_bytes(b"left by a crash")
    temp = kept.parent / f".{kept.name}.abc.tmp"
    temp.write_bytes(b"half")
    with CaseStore(store_path) as store:
        assert store.vacuum_orphans() == 0  # already done on open
    assert kept.is_file() and not stray.exists() and not temp.exists()
    assert not stray.parent.exists()


def test_find_cases_escapes_wildcards_and_filters_dates(store_path):
    with CaseStore(store_path) as store:
        for pid, day in [("A_1", "2024-01-10"), ("AB1", "2024-03-01"), ("50%", "2024-06-30")]:
            data = fakes.photo_bytes()
            c = fakes.case(pid)
            store.file_screening(c, [(data, fakes.result(data, c))], None, date=day)
        assert [s.patient_id for s in store.find_cases("_")] == ["A_1"]
        assert [s.patient_id for s in store.find_cases("%")] == ["50%"]
        assert [s.patient_id for s in store.find_cases("ab")] == ["AB1"]
        assert [s.patient_id for s in store.find_cases()] == ["50%", "AB1", "A_1"]
        assert [s.patient_id for s in store.find_cases(date_from="2024-02-01")] == ["50%", "AB1"]
        assert [
            s.patient_id for s in store.find_cases(date_from="2024-02-01", date_to="2024-03-31")
        ] == ["AB1"]
        with pytest.raises(UsageError):
            store.find_cases(date_from="March")
        summary = store.find_cases("AB")[0]
        assert (summary.visit_count, summary.photo_count, summary.last_visit) == (
            1,
            1,
            "2024-03-01",
        )


def test_uid_prefixes(store_path):
    with CaseStore(store_path) as store:
        (uid, _), _ = _file_one(store)
        assert store.resolve_uid(uid[:6].upper()) == uid
        for bad in (uid[:5], "zzzzzzzz", "000000" if not uid.startswith("000000") else "ffffff"):
            with pytest.raises(UsageError):
                store.resolve_uid(bad)


def test_notes_edit_and_exports_are_audited_without_their_text(store_path):
    with CaseStore(store_path) as store:
        (uid, visit_uid), _ = _file_one(store)
        store.update_visit_notes(visit_uid, "private remark\nsecond line", "Dr B")
        store.add_export(visit_uid, "pdf", "/reports/Jane Doe.pdf", "cd" * 32, "Dr B")
        with pytest.raises(ValueError):
            store.add_export(visit_uid, "docx", "/x", "cd" * 32)
        record = store.get_case(uid)
        assert record.visits[0].notes == "private remark\nsecond line"
        assert record.visits[0].exports[0].path == "/reports/Jane Doe.pdf"
        entries = store.audit_log(uid)
        assert [e.action for e in entries][-2:] == ["edited", "exported"]
        text = json.dumps([e.to_json() for e in entries])
        assert "private" not in text and "Jane" not in text and "P-0017" not in text


def test_journal_falls_back_on_a_network_share(store_path, monkeypatch, caplog):
    monkeypatch.setattr(db, "network_share", lambda path: "nfs4")
    with CaseStore(store_path) as store:
        assert store.journal_note and "network share (nfs4)" in store.journal_note
        _file_one(store)
    assert "rollback journal instead of WAL" in caplog.text
    conn = _raw(store_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_mount_table_lookup():
    mounts = "\n".join(
        [
            "/dev/vda / ext4 rw 0 0",
            "server:/export /mnt/clinic nfs4 rw 0 0",
            "//nas/share /mnt/with\\040space cifs rw 0 0",
            "host /mnt/clinic/local ext4 rw 0 0",
        ]
    )
    assert db.mount_fs_type(Path("/mnt/clinic/store"), mounts) == "nfs4"
    assert db.mount_fs_type(Path("/mnt/clinic/local/store"), mounts) == "ext4"
    assert db.mount_fs_type(Path("/mnt/with space/x"), mounts) == "cifs"
    assert db.mount_fs_type(Path("/mnt/clinicX"), mounts) == "ext4"
    assert db.network_share(Path(os.getcwd())) is None  # the test machine's disk is local


def test_photo_extension_from_content():
    assert photo_extension(b"\xff\xd8\xff\xe0rest") == ".jpg"
    assert photo_extension(b"\x89PNG\r\n\x1a\nrest") == ".png"
    assert photo_extension(b"\x00\x00\x00\x18ftypheic....") == ".heic"
    assert photo_extension(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ".webp"
    assert photo_extension(b"Jane Doe.jpg") == ".img"


def test_sqlite_errors_become_one_line_store_errors():
    def err(code: int, text: str) -> StoreError:
        exc = sqlite3.OperationalError(text)
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
        return db.store_error(exc)

    assert str(err(5, "database is locked")) == (
        "the case store is busy (another DysmorphDesk is writing); try again"
    )
    assert str(err(8, "attempt to write a readonly database")) == "the case store is read-only"
    assert str(err(13, "database or disk is full")) == "the disk holding the case store is full"
    assert "damaged" in str(err(26, "file is not a database"))
    assert "damaged" in str(err(11, "database disk image is malformed"))
    assert StoreError(db.BUSY).exit_code == 2


def test_busy_store_says_so(store_path):
    with CaseStore(store_path) as store:
        _file_one(store)
    blocker = _raw(store_path)
    blocker.execute("BEGIN IMMEDIATE")  # another DysmorphDesk in the middle of a write
    try:
        with pytest.raises(StoreError, match=r"^the case store is busy \(another DysmorphDesk"):
            CaseStore(store_path, busy_timeout=0.2)
        blocker.execute("ROLLBACK")
        with CaseStore(store_path) as store:
            _file_one(store, "P-2")
            assert len(store.find_cases()) == 2
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
