"""The clinician's HPO terms are part of the case: they count as details (New case, Quit and a new
photo ask before they go), Save files them and the differential ranked for exactly the visit's
photos, re-opening a stored visit brings them back unranked, and a differential of one photo of a
two-photo visit is never filed as the visit's."""

from __future__ import annotations

from dysmorph_desk.gui.main_window import DIFFERENTIAL_TAB
from dysmorph_desk.records.store import CaseStore

TIMEOUT = 30_000
HYPERTELORISM = ("HP:0000316", "Hypertelorism")
DOWNSLANTED = ("HP:0000494", "Downslanted palpebral fissures")


def kinds(win):
    return [kind for kind, _text in win.dialogs.asked]


def open_and_wait(qtbot, win, path):
    with qtbot.waitSignal(win.result_shown, timeout=TIMEOUT):
        win.open_path(path)
    return win.result


def add_and_rank(qtbot, win, term):
    """Add a term to a case with a screened photo: it ranks by the terms (no gallery)."""
    with qtbot.waitSignal(win.differential.ranked, timeout=TIMEOUT):
        win.differential.entry.add_term(*term)


def test_terms_alone_are_details_new_case_asks_before_clearing(qtbot, window):
    panel = window.differential
    panel.entry.add_term(*HYPERTELORISM)
    assert window.flow.session.has_details(window.case_panel.case())
    window.dialogs.answers["unsaved_details"] = "cancel"
    assert not window.flow.new_case()
    assert kinds(window) == ["unsaved_details"] and panel.terms() == [HYPERTELORISM]
    window.dialogs.answers["unsaved_details"] = "discard"
    assert window.flow.new_case()
    assert panel.terms() == [] and not window.flow.session.hpo_terms


def test_terms_alone_make_quitting_ask(qtbot, window):
    window.differential.entry.add_term(*HYPERTELORISM)
    window.dialogs.answers["unsaved_details"] = "cancel"
    assert not window.close() and kinds(window) == ["unsaved_details"]


def test_a_photo_for_a_case_with_terms_asks_and_names_them(qtbot, window, portraits):
    window.differential.entry.add_term(*HYPERTELORISM)
    window.differential.entry.add_term(*DOWNSLANTED)
    open_and_wait(qtbot, window, portraits["grace_hopper"])  # answered: same patient
    assert kinds(window) == ["photo_with_case"] and "2 HPO terms" in window.dialogs.asked[0][1]
    assert window.differential.terms() == [HYPERTELORISM, DOWNSLANTED]


def test_save_files_the_terms_and_the_differential_and_changes_make_it_unsaved(
    qtbot, window, portraits, tmp_path
):
    window.settings.records.store_path = str(tmp_path / "store")
    result = open_and_wait(qtbot, window, portraits["grace_hopper"])
    add_and_rank(qtbot, window, HYPERTELORISM)
    assert window.flow.save()
    assert "differential was filed" in window.statusBar().currentMessage()
    case = window.case_panel.case()
    assert not window.flow.session.dirty(case)
    with CaseStore(tmp_path / "store") as store:
        (visit,) = store.get_case(window.flow.session.case_uid).visits
    assert visit.hpo_terms == [{"id": "HP:0000316", "label": "Hypertelorism"}]
    (diff,) = visit.differentials
    assert diff.result["photos"] == [result.photo_sha256]
    assert diff.result["differential_context"]["hpo_terms"] == visit.hpo_terms
    assert diff.result["differential"] == window.differential.view.result.rows_json()

    add_and_rank(qtbot, window, DOWNSLANTED)  # another term: ranked again, not saved yet
    assert window.flow.session.dirty(case) and "not saved" in window.case_panel.status.text()
    assert window.flow.save() and not window.flow.session.dirty(case)
    assert window.flow.save()  # nothing new: no third differential
    with CaseStore(tmp_path / "store") as store:
        (visit,) = store.get_case(window.flow.session.case_uid).visits
        edits = [e.detail for e in store.audit_log(window.flow.session.case_uid)]
    assert [t["id"] for t in visit.hpo_terms] == ["HP:0000316", "HP:0000494"]
    assert len(visit.differentials) == 2 and f"HPO terms of visit {visit.uid}" in edits


def test_reopening_restores_the_terms_unranked_and_never_files_a_partial_differential(
    qtbot, window, portraits, tmp_path
):
    store_dir = tmp_path / "store"
    window.settings.records.store_path = str(store_dir)
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-0042")
    open_and_wait(qtbot, window, portraits["astronaut"])  # same patient: a two-photo visit
    add_and_rank(qtbot, window, HYPERTELORISM)
    assert window.flow.save()
    uid = window.flow.session.case_uid
    window.flow.new_case()
    panel = window.differential
    assert panel.terms() == []

    view = window.flow.open_cases()
    qtbot.addWidget(view)
    assert view.select_case(uid)
    view.results_table.selectRow(0)
    assert "HPO terms: HP:0000316 Hypertelorism" in view.visit_label.text()
    assert "Differential filed" in view.visit_label.text()
    window.tabs.setCurrentIndex(DIFFERENTIAL_TAB)
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        view.reopen_button.click()
    assert panel.terms() == [HYPERTELORISM]  # the visit's own terms are back
    assert not panel.ranking and panel.view.result is None  # ... and not ranked by themselves
    assert "filed with the visit of" in panel.view.message.text()

    with qtbot.waitSignal(panel.ranked, timeout=TIMEOUT) as got:
        panel.rank()  # the clinician ranks: one photo of the two
    assert got.args[0].photos_used == 1
    assert window.flow.save()
    message = window.statusBar().currentMessage()
    assert "differential was not filed" in message and "this visit's 2" in message
    with CaseStore(store_dir) as store:
        (visit,) = store.get_case(uid).visits
    assert len(visit.differentials) == 1  # only the one ranked for both photos
    assert not window.flow.session.dirty(window.case_panel.case())
