"""Entries from the case store are deleted with their case (records' one deletion rule)."""

from __future__ import annotations

import numpy as np

from dysmorph_desk.gallery import links
from dysmorph_desk.gallery.store import read_gallery, write_gallery
from dysmorph_desk.records.store import CaseStore
from tests import fakes
from tests.gallery.helpers import SHA, random_gallery


def _filed_case(store_path, patient_id: str) -> str:
    data = fakes.photo_bytes()
    case = fakes.case(patient_id)
    with CaseStore(store_path) as store:
        uid, _ = store.file_screening(case, [(data, fakes.result(data, case))], None)
    return uid


def _with_case_entries(path, uid: str, n: int = 2):
    g = random_gallery(1, disorders=3)
    for i in range(n):
        g.add(
            "ORPHA:648",
            "Noonan",
            "P-0017",
            {SHA: ("unit-model", np.eye(16)[i])},
            source="case",
            case_uid=uid,
        )
    write_gallery(g, path)
    links.remember(path)
    return g


def test_deleting_the_case_removes_its_entries(tmp_path):
    store_path = tmp_path / "store"
    uid = _filed_case(store_path, "P-0017")
    other = _filed_case(store_path, "P-0018")
    path = tmp_path / "clinic.ddgallery"
    g = _with_case_entries(path, uid)
    before = len(g.entries)
    g2 = read_gallery(path)
    g2.add(
        "ORPHA:648",
        "Noonan",
        "P-0018",
        {SHA: ("unit-model", np.eye(16)[5])},
        source="case",
        case_uid=other,
    )
    write_gallery(g2, path)
    with CaseStore(store_path) as store:
        report = store.delete_case(uid)
    assert not report.problems
    back = read_gallery(path)  # still a valid gallery
    assert uid not in back.case_uids() and other in back.case_uids()
    assert len(back.entries) == before - 2 + 1
    assert links.linked_galleries() == [path.resolve()]  # still holds a case entry
    with CaseStore(store_path) as store:
        store.delete_case(other)
    assert not read_gallery(path).case_uids() and links.linked_galleries() == []


def test_a_vanished_gallery_is_reported_and_forgotten(tmp_path):
    store_path = tmp_path / "store"
    uid = _filed_case(store_path, "P-0019")
    path = tmp_path / "moved.ddgallery"
    _with_case_entries(path, uid)
    path.unlink()
    with CaseStore(store_path) as store:
        report = store.delete_case(uid)
    assert report.problems and "forget_gallery_entries" in report.problems[0]
    assert links.linked_galleries() == []


def test_other_galleries_are_untouched(tmp_path):
    store_path = tmp_path / "store"
    uid = _filed_case(store_path, "P-0020")
    unrelated = tmp_path / "plain.ddgallery"
    write_gallery(random_gallery(2), unrelated)
    before = unrelated.read_bytes()
    with CaseStore(store_path) as store:
        assert not store.delete_case(uid).problems
    assert unrelated.read_bytes() == before


def test_an_unreadable_link_list_is_ignored(tmp_path):
    links.links_file().parent.mkdir(parents=True, exist_ok=True)
    links.links_file().write_text("{not json")
    assert links.linked_galleries() == []
    links.remember(tmp_path / "g.ddgallery")
    assert links.linked_galleries() == [(tmp_path / "g.ddgallery").resolve()]
    links.forget(tmp_path / "g.ddgallery")
    assert links.linked_galleries() == []
