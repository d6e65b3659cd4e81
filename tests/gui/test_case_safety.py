"""Case safety: New case clears everything, a new photo for a case with details asks, nothing
unsaved is lost on quit, exports are named from the current case only and never overwrite
silently."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.gui.conftest import webcam_frame

TIMEOUT = 30_000


def open_and_wait(qtbot, win, path):
    with qtbot.waitSignal(win.result_shown, timeout=TIMEOUT):
        win.open_path(path)
    return win.result


def fill_case(win, patient_id="P-0042"):
    panel = win.case_panel
    panel.patient_id.setText(patient_id)
    panel.sex.setCurrentIndex(panel.sex.findData("female"))
    panel.operator.setText("Dr. Someone Else")
    panel.notes.setPlainText("short philtrum")


def kinds(win):
    return [kind for kind, _text in win.dialogs.asked]


def test_new_case_clears_every_field_and_result(qtbot, window, portraits):
    window.settings.app.operator = "Dr. Default"
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    fill_case(window)
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):  # a new age screens again
        window.case_panel.age.setValue(30)
    assert window.flow.session.dirty(window.case_panel.case())
    window.actions_.new_case.trigger()
    assert kinds(window) == ["unsaved"]  # asked before anything was cleared
    case = window.case_panel.case()
    assert (case.patient_id, case.age_months, case.sex, case.notes) == ("", None, "unknown", "")
    assert case.operator == "Dr. Default"
    assert window.result is None and window.source is None and not window.photo_view.has_photo()
    assert not window.flow.session.photos and not window.actions_.export.isEnabled()
    assert window.results_view.message is not None and window.heatmap.result is None
    assert "No photo" in window.case_panel.status.text()


def test_new_case_cancelled_keeps_everything(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    fill_case(window)
    window.dialogs.answers["unsaved"] = "cancel"
    assert not window.flow.new_case()
    assert window.case_panel.case().patient_id == "P-0042" and window.result is not None


def test_second_photo_new_case_clears_the_details(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    fill_case(window)
    window.dialogs.answers["photo_with_case"] = "new"
    open_and_wait(qtbot, window, portraits["astronaut"])
    assert kinds(window) == ["photo_with_case", "unsaved"]
    text = window.dialogs.asked[0][1]
    assert "P-0042" in text and "1 screened photo" in text
    assert window.case_panel.case().patient_id == "" and window.case_panel.case().notes == ""
    assert len(window.flow.session.photos) == 1 and window.result.case.patient_id == ""


def test_second_photo_same_patient_keeps_and_adds(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    fill_case(window)
    first = window.result
    open_and_wait(qtbot, window, portraits["astronaut"])  # answer: same patient
    assert kinds(window) == ["photo_with_case"]
    assert window.case_panel.case().patient_id == "P-0042"
    results = window.flow.session.results()
    assert len(results) == 2 and results[0] is first and results[1] is window.result
    assert window.result.case.patient_id == "P-0042"
    assert "2 photos" in window.case_panel.status.text()


def test_photo_question_cancelled_changes_nothing(qtbot, window, portraits):
    result = open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-1")
    window.dialogs.answers["photo_with_case"] = "cancel"
    window.open_path(portraits["astronaut"])
    window.screen_frame(webcam_frame(portraits))  # a capture or a pasted image asks too
    assert kinds(window) == ["photo_with_case", "photo_with_case"]
    assert window.result is result and window._screen_id is None
    assert len(window.flow.session.photos) == 1


def test_no_question_for_an_empty_case(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.flow.new_case()
    window.dialogs.asked.clear()
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.screen_frame(webcam_frame(portraits))
    assert window.dialogs.asked == [] and isinstance(window.source, bytes)  # screened as PNG


def test_quit_with_unsaved_changes_asks(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.dialogs.answers["unsaved"] = "cancel"
    assert not window.close()
    assert window.isVisible() and kinds(window) == ["unsaved"]
    window.dialogs.answers["unsaved"] = "discard"
    assert window.close()


def test_every_question_goes_through_ask(qtbot, window, portraits, monkeypatch):
    asked = []
    monkeypatch.setattr(window, "_ask", lambda kind, **values: asked.append(kind) or "cancel")
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-1")
    window.open_path(portraits["astronaut"])
    window.actions_.new_case.trigger()
    assert not window.close()
    assert asked == ["photo_with_case", "unsaved", "unsaved"] and window.isVisible()
    assert window.dialogs.asked == []  # nothing reached the dialogs


def test_quit_with_details_only_asks(qtbot, window):
    window.case_panel.notes.setPlainText("typed, nothing screened")
    window.dialogs.answers["unsaved_details"] = "cancel"
    assert not window.close() and kinds(window) == ["unsaved_details"]


def test_quit_saved_case_does_not_ask(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    assert window.flow.save()
    assert window.close() and window.dialogs.asked == []


def test_export_name_never_carries_the_previous_case(qtbot, window, portraits):
    today = date.today().isoformat()
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P 0042/x")
    window.flow.export("json")  # the save dialog is cancelled (save_path None)
    assert window.dialogs.export_titles[-1].endswith(f"screening-P-0042-x-{today}.json")
    window.flow.new_case()
    open_and_wait(qtbot, window, portraits["astronaut"])
    window.flow.export("pdf")
    name = window.dialogs.export_titles[-1]
    assert name.endswith(f"screening-no-id-{today}.pdf") and "0042" not in name


def export(qtbot, window, kind, path):
    window.dialogs.save_path = str(path)
    with qtbot.waitSignal(window.flow.exported, timeout=TIMEOUT):
        window.flow.export(kind)


def test_exports_write_each_kind(qtbot, window, portraits, tmp_path):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-9")
    export(qtbot, window, "json", tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["schema_version"] == 2 and doc["photos"][0]["case"]["patient_id"] == "P-9"
    export(qtbot, window, "fhir", tmp_path / "r.fhir.json")
    bundle = json.loads((tmp_path / "r.fhir.json").read_text())
    assert bundle["resourceType"] == "Bundle"
    export(qtbot, window, "dicom", tmp_path / "r")  # the suffix is added
    assert (tmp_path / "r.dcm").read_bytes()[128:132] == b"DICM"
    assert not window.dialogs.errors and not window.dialogs.asked
    assert [e.kind for e in window.flow.session.pending_exports] == ["json", "fhir", "dicom"]


def test_the_photo_goes_into_fhir_and_dicom_only_when_the_clinic_enables_it(
    qtbot, window, portraits, tmp_path
):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    export(qtbot, window, "fhir", tmp_path / "a.fhir.json")
    kinds_ = [
        e["resource"]["resourceType"]
        for e in json.loads((tmp_path / "a.fhir.json").read_text())["entry"]
    ]
    assert "Media" not in kinds_
    export(qtbot, window, "dicom", tmp_path / "a.dcm")
    assert not (tmp_path / "a-photo1.dcm").exists()
    window.settings.records.export_photos = True
    export(qtbot, window, "fhir", tmp_path / "b.fhir.json")
    kinds_ = [
        e["resource"]["resourceType"]
        for e in json.loads((tmp_path / "b.fhir.json").read_text())["entry"]
    ]
    assert kinds_.count("Media") == 1
    export(qtbot, window, "dicom", tmp_path / "b.dcm")
    photo = (tmp_path / "b-photo1.dcm").read_bytes()
    assert photo[128:132] == b"DICM"


def test_export_asks_before_overwriting(qtbot, window, portraits, tmp_path):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    target = tmp_path / "old.json"
    target.write_text("keep me")
    window.dialogs.save_path = str(target)
    window.dialogs.answers["overwrite"] = "cancel"
    window.flow.export("json")
    assert kinds(window) == ["overwrite"] and target.read_text() == "keep me"
    window.dialogs.answers["overwrite"] = "overwrite"
    export(qtbot, window, "json", target)
    assert json.loads(target.read_text())["schema_version"] == 2


def test_visit_of_two_photos_exports_one_fused_document(qtbot, window, portraits, tmp_path):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-2")
    open_and_wait(qtbot, window, portraits["astronaut"])  # same patient
    export(qtbot, window, "json", tmp_path / "visit.json")
    doc = json.loads((tmp_path / "visit.json").read_text())
    assert len(doc["photos"]) == 2 and doc["visit"]["photos"] == 2
    assert {p["case"]["patient_id"] for p in doc["photos"]} == {"P-2"}


def test_new_age_screens_every_photo_of_the_visit_again(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-3")
    open_and_wait(qtbot, window, portraits["astronaut"])
    window.case_panel.age.setValue(40)
    window.case_panel._debounce.timeout.emit()
    qtbot.waitUntil(
        lambda: (
            not window.flow.session.stale(window.case_panel.case())
            and not window.flow._background
            and window._screen_id is None
        ),
        timeout=TIMEOUT,
    )
    assert {r.case.age_months for r in window.flow.session.results()} == {40.0}


def test_unavailable_export_kind_is_disabled_with_the_reason(qtbot, window, portraits, monkeypatch):
    import importlib

    from dysmorph_desk.gui import exporters

    real = importlib.import_module

    def no_dicom(name, *args):
        if name == "dysmorph_desk.records.dicom":
            raise ImportError("No module named 'pydicom'")
        return real(name, *args)

    monkeypatch.setattr(exporters.importlib, "import_module", no_dicom)
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.actions_.refresh_exports()
    dicom = window.actions_.exports["dicom"]
    assert not dicom.isEnabled() and "pydicom" in dicom.toolTip()
    assert window.actions_.exports["fhir"].isEnabled()


@pytest.mark.parametrize("answer", ["same", "new"])
def test_capture_with_details_asks(qtbot, window, portraits, answer):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-5")
    window.dialogs.answers["photo_with_case"] = answer
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.screen_frame(webcam_frame(portraits))
    assert kinds(window)[0] == "photo_with_case"
    kept = window.case_panel.case().patient_id == "P-5"
    assert kept == (answer == "same")
    assert len(window.flow.session.photos) == (2 if answer == "same" else 1)
