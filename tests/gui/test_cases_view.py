"""Save case into a temporary case store, the Cases view (search, visits and results, re-open,
delete after two confirmations), exports recorded, and a store that cannot be opened."""

from __future__ import annotations

import pytest

from dysmorph_desk.records.store import CaseStore

TIMEOUT = 30_000


@pytest.fixture
def store_dir(window, tmp_path):
    folder = tmp_path / "store"
    window.settings.records.store_path = str(folder)
    return folder


def open_and_wait(qtbot, win, path):
    with qtbot.waitSignal(win.result_shown, timeout=TIMEOUT):
        win.open_path(path)
    return win.result


def saved_case(qtbot, window, portraits, patient_id="P-0042"):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText(patient_id)
    with qtbot.waitSignal(window.flow.saved, timeout=TIMEOUT):
        window.actions_.save_case.trigger()
    return window.flow.session.case_uid


def test_save_files_the_case_and_the_view_lists_it(qtbot, window, portraits, store_dir):
    uid = saved_case(qtbot, window, portraits)
    assert not window.dialogs.errors and not window.flow.session.dirty(window.case_panel.case())
    assert "saved" in window.case_panel.status.text()
    with CaseStore(store_dir) as store:
        record = store.get_case(uid)
    [visit] = record.visits
    assert record.patient_id == "P-0042" and len(visit.photos) == 1
    assert visit.photos[0].file is not None  # kept (the default), so it can be re-opened
    view = window.flow.open_cases()
    qtbot.addWidget(view)
    assert [s.patient_id for s in view.summaries] == ["P-0042"]
    view.search.setText("nobody")
    view.refresh()
    assert view.summaries == [] and view.cases_table.rowCount() == 0
    view.search.setText("0042")
    view.refresh()
    assert view.select_case(uid) and view.record is not None
    cells = [view.results_table.item(0, c).text() for c in range(view.results_table.columnCount())]
    assert cells[0] == visit.date and cells[3] == "test-hybrid"
    assert cells[4].replace(".", "").isdigit() or cells[4].startswith("cannot assess")
    view.date_from.setDate(view.date_from.date().currentDate().addDays(1))
    assert view.summaries == []  # no visit after today


def test_second_save_adds_to_the_same_visit_and_exports_are_recorded(
    qtbot, window, portraits, store_dir, tmp_path
):
    uid = saved_case(qtbot, window, portraits)
    window.dialogs.save_path = str(tmp_path / "report.pdf")
    with qtbot.waitSignal(window.flow.exported, timeout=TIMEOUT):
        window.actions_.export.trigger()
    open_and_wait(qtbot, window, portraits["astronaut"])  # same patient
    window.case_panel.notes.setPlainText("second photo taken")
    assert window.flow.session.dirty(window.case_panel.case())
    assert window.flow.save()
    with CaseStore(store_dir) as store:
        [visit] = store.get_case(uid).visits
    assert len(visit.photos) == 2 and visit.notes == "second photo taken"
    assert [e.kind for e in visit.exports] == ["pdf"] and len(visit.visit_results) == 1
    # a new patient ID is another visit: filed again, the earlier filing stays
    window.case_panel.patient_id.setText("P-0043")
    assert window.flow.save()
    with CaseStore(store_dir) as store:
        assert {s.patient_id for s in store.find_cases()} == {"P-0042", "P-0043"}


def test_export_before_save_is_recorded_on_save(qtbot, window, portraits, store_dir, tmp_path):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.dialogs.save_path = str(tmp_path / "r.json")
    with qtbot.waitSignal(window.flow.exported, timeout=TIMEOUT):
        window.flow.export("json")
    assert window.flow.save()
    with CaseStore(store_dir) as store:
        [visit] = store.get_case(window.flow.session.case_uid).visits
    assert [(e.kind, e.path) for e in visit.exports] == [("json", str(tmp_path / "r.json"))]


def test_reopen_a_stored_photo_files_a_new_result_only_on_save(qtbot, window, portraits, store_dir):
    uid = saved_case(qtbot, window, portraits)
    window.flow.new_case()
    view = window.flow.open_cases()
    qtbot.addWidget(view)
    assert view.select_case(uid)
    view.results_table.selectRow(0)
    assert view.reopen_button.isEnabled()
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        view.reopen_button.click()
    assert window.case_panel.case().patient_id == "P-0042" and window.heatmap.result is not None
    with CaseStore(store_dir) as store:
        before = store.get_case(uid)
        assert [e.action for e in store.audit_log(uid)].count("opened") == 1
    assert len(before.photos[0].results) == 1  # nothing filed by re-opening
    assert window.flow.session.dirty(window.case_panel.case())
    assert window.flow.save()
    with CaseStore(store_dir) as store:
        after = store.get_case(uid)
    assert len(after.visits) == 1 and len(after.photos) == 1
    assert len(after.photos[0].results) == 2  # the new result, on the same stored photo


def test_delete_asks_twice(qtbot, window, portraits, store_dir):
    uid = saved_case(qtbot, window, portraits)
    view = window.flow.open_cases()
    qtbot.addWidget(view)
    assert view.select_case(uid)
    window.dialogs.answers.update(delete_case="delete", delete_case_again="cancel")
    view.delete_button.click()
    assert [k for k, _ in window.dialogs.asked] == ["delete_case", "delete_case_again"]
    assert [s.uid for s in view.summaries] == [uid]
    window.dialogs.answers["delete_case_again"] = "delete"
    view.delete_button.click()
    assert view.summaries == [] and view.record is None
    with CaseStore(store_dir) as store:
        assert store.find_cases() == []
    # the case on screen is no longer filed: quitting asks again
    assert window.flow.session.case_uid is None
    assert window.flow.session.dirty(window.case_panel.case())


def test_a_store_that_cannot_be_opened_leaves_the_app_usable(qtbot, window, portraits, tmp_path):
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "cases.sqlite").write_bytes(b"this is not a database" * 100)
    window.settings.records.store_path = str(folder)
    window.flow.probe_store()
    assert window.flow.store_label.isVisible()
    assert "Case store unavailable" in window.statusBar().currentMessage()
    assert "damaged" in window.flow.store_label.toolTip()
    open_and_wait(qtbot, window, portraits["grace_hopper"])  # screening works
    assert not window.flow.save()
    [(title, message, _details)] = window.dialogs.errors
    assert title == "Save case" and "not saved" in message and "damaged" in message
    window.dialogs.save_path = str(tmp_path / "r.json")
    with qtbot.waitSignal(window.flow.exported, timeout=TIMEOUT):  # exports work
        window.flow.export("json")
    view = window.flow.open_cases()
    qtbot.addWidget(view)
    assert "unavailable" in view.message.text() and view.summaries == []
