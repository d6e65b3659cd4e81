"""The main window with the in-process engine: photo -> results and heatmaps, faces, landmarks,
bad files, paste and drop, case details, export."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from dysmorph_desk.report.formatting import format_percent
from dysmorph_desk.utils import paths
from tests.gui.conftest import two_face_photo

TIMEOUT = 30_000


def open_and_wait(qtbot, win, path):
    with qtbot.waitSignal(win.result_shown, timeout=TIMEOUT):
        win.open_path(path)
    return win.result


def test_open_photo_shows_results_and_heatmap(qtbot, window, portraits):
    result = open_and_wait(qtbot, window, portraits["grace_hopper"])
    assert window.windowTitle() == "DysmorphDesk"
    [card] = window.results_view.model_widgets
    assert set(card.bars) == {"syndromic_like", "control"}
    assert "threshold" in card.verdict.text()
    assert card.badge.text() == "Demonstration" and "tests only" in card.badge.toolTip()
    tip = card.badge.toolTip()  # the card's validation as the report prints it
    assert "90.0%" in tip and "unknown" in tip and "Patient&#x27;s group" in tip
    for cid, bar in card.bars.items():  # the report's percentages, legible at any value
        assert bar.text() == format_percent(result.results[0].probabilities[cid])
    assert window.banner.isVisible() and "not for clinical use" in window.banner.text()
    assert window.results_view.quality_labels and len(window.photo_view.faces) == 1
    assert window.actions_.export.isEnabled()
    hm = window.heatmap
    assert result.results[0].heatmap_aligned is not None
    assert hm.image.source_pixmap() is not None and not hm.image.source_pixmap().isNull()
    assert "Grad-CAM" in hm.caption.text()
    aligned = hm.image.source_pixmap().size()
    hm.base_box.setCurrentIndex(hm.base_box.findData("photo"))
    assert hm.image.source_pixmap().size() != aligned  # now the whole photo
    hm.safe_only.setChecked(True)
    assert {hm.colormap_box.itemData(i) for i in range(hm.colormap_box.count())} == {
        "viridis",
        "cividis",
    }
    hm.opacity.setValue(80)
    assert len(window.compare.cells) == 1
    # another CAM method screens again; "none" gives probabilities only
    hm.method_box.setCurrentIndex(hm.method_box.findData("none"))
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        hm._cam_changed()
    assert window.result.results[0].heatmap_aligned is None
    assert "no heatmap method" in hm.caption.text()


def test_several_faces_user_clicks_one(qtbot, window, portraits, tmp_path):
    result = open_and_wait(qtbot, window, two_face_photo(portraits, tmp_path / "two.png"))
    assert len(window.faces) == 2 and result.face_index == 1
    assert "2 faces" in window.face_label.text()
    view = window.photo_view
    x0, y0, x1, y1 = window.faces[1].box
    pos = view.to_widget((x0 + x1) / 2, (y0 + y1) / 2)
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        qtbot.mouseClick(
            view, Qt.MouseButton.LeftButton, pos=QPoint(round(pos.x()), round(pos.y()))
        )
    assert window.result.face_index == 2 and view.selected == 2


def test_no_face_lets_the_user_place_landmarks(qtbot, window, tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 255, (360, 360, 3), dtype=np.uint8), (0, 0), 3)
    path = tmp_path / "noface.png"
    cv2.imwrite(str(path), img)
    with qtbot.waitSignal(window.screen_failed, timeout=TIMEOUT):
        window.open_path(path)
    view = window.photo_view
    assert view.placing and "landmarks" in window.face_label.text()
    assert not window.dialogs.errors  # a face refusal is shown in place, not as a dialog
    points = [(140, 150), (220, 150), (180, 200), (150, 245), (210, 245)]
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        for x, y in points:
            pos = view.to_widget(x, y)
            qtbot.mouseClick(
                view, Qt.MouseButton.LeftButton, pos=QPoint(round(pos.x()), round(pos.y()))
            )
    assert any("by hand" in w for w in window.result.warnings)
    assert np.allclose(window.result.face.landmarks, points, atol=2)


def test_corrupt_file_gives_a_message_not_a_crash(qtbot, window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    with qtbot.waitSignal(window.screen_failed, timeout=TIMEOUT):
        window.open_path(bad)
    [(_title, message, details)] = window.dialogs.errors
    assert message and "\n" not in message and details == ""
    assert window.isVisible() and "Cannot screen" in window.results_view.message.text()
    window.open_path(tmp_path / "missing.jpg")
    assert "does not exist" in window.dialogs.errors[-1][1]


def test_export_pdf(qtbot, window, portraits, tmp_path):
    from pypdf import PdfReader

    open_and_wait(qtbot, window, portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-0042")
    out = tmp_path / "report.pdf"
    window.dialogs.save_path = str(out)
    window.actions_.export.trigger()
    qtbot.waitUntil(
        lambda: bool(window.dialogs.saved_reports or window.dialogs.errors), timeout=TIMEOUT
    )
    assert not window.dialogs.errors
    assert out.read_bytes().startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(out).pages)
    assert "P-0042" in text


def test_paste_image_data_and_drop_a_file(qtbot, window, portraits):
    QGuiApplication.clipboard().setImage(QImage(str(portraits["grace_hopper"])))
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.actions_.paste.trigger()
    assert window.result.faces_detected == 1
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(portraits["astronaut"]))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.dropEvent(event)
    assert window.result.photo.shape[:2] == (512, 512)


def test_age_outside_validated_range(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.case_panel.age.setValue(300)
    assert (
        window.case_panel.age_warning.isVisible()
        and "6–144" in window.case_panel.age_warning.text()
    )
    [card] = window.results_view.model_widgets
    assert card.verdict.text().startswith("Cannot assess: age 300 months is outside")


def test_photo_names_are_not_remembered_unless_allowed(qtbot, window, portraits):
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    assert not window.recent.items() and not window.recent.path().exists()
    logs = (
        "".join(p.read_text() for p in paths.log_dir().glob("*.log"))
        if paths.log_dir().exists()
        else ""
    )
    assert "grace_hopper" not in logs
    window.fill_recent_menu()
    assert "Off" in window.actions_.recent_menu.actions()[0].text()
    from dataclasses import replace

    window.apply_settings(
        replace(window.settings, app=replace(window.settings.app, remember_photo_names=True))
    )
    open_and_wait(qtbot, window, portraits["grace_hopper"])
    assert window.recent.items()[0].endswith("grace_hopper.jpg")
    window.fill_recent_menu()
    assert window.actions_.recent_menu.actions()[0].text() == "grace_hopper.jpg"


def test_main_actions_have_shortcuts_and_tooltips(window):
    a = window.actions_
    for action in (
        a.open,
        a.paste,
        a.export,
        a.camera,
        a.capture,
        a.cancel,
        a.landmarks,
        a.next_face,
        a.models,
        a.settings,
        a.quit,
        a.guide,
        a.shortcuts,
        *a.tabs,
    ):
        assert not action.shortcut().isEmpty() and action.toolTip(), action.text()
    assert a.open.shortcut().toString() == "Ctrl+O" and a.export.shortcut().toString() == "Ctrl+E"
    assert a.guide.shortcut().toString() == "F1"  # F1 is help, not About
    help_menu = next(m.menu() for m in window.menuBar().actions() if m.text() == "&Help")
    assert [act.text() for act in help_menu.actions() if not act.isSeparator()] == [
        "&User guide",
        "&Keyboard shortcuts",
        "Third-party &licences",
        "Open &log folder",
        "&About DysmorphDesk",
    ]


def test_busy_state_cancel_and_unexpected_errors(qtbot, window, portraits, monkeypatch):
    window.open_path(
        portraits["grace_hopper"]
    )  # queued: the in-process engine runs it on the next event
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    assert window.engine_label.text() == "Working…"
    with qtbot.waitSignal(window.engine.replied, timeout=TIMEOUT):
        window.actions_.cancel.trigger()
    assert window.result is None and window.results_view.message.text() == "Screening cancelled."
    assert not window.progress.isVisible() and not window.dialogs.errors

    def boom(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(window.engine.core, "_do_screen", boom)
    with qtbot.waitSignal(window.screen_failed, timeout=TIMEOUT):
        window.open_path(portraits["grace_hopper"])
    [(_title, message, details)] = window.dialogs.errors
    assert message == "internal error: RuntimeError: a bug" and "Traceback" in details


def test_error_dialog_copies_details(qtbot):
    from dysmorph_desk.gui.dialogs import ErrorDialog

    dialog = ErrorDialog(None, "Oops", "one line", "Traceback (most recent call last): ...")
    qtbot.addWidget(dialog)
    dialog.copy_details()
    text = QGuiApplication.clipboard().text()
    assert text.startswith("DysmorphDesk ") and "Traceback" in text


def test_heatmap_overlay_colours_and_empty_maps(qtbot, window, portraits):
    from dysmorph_desk.gui.heatmap_view import heat_is_empty, render_overlay

    result = open_and_wait(qtbot, window, portraits["grace_hopper"])
    model = result.results[0]
    plain = render_overlay(result, model, "aligned", "viridis", 0.5)
    if heat_is_empty(model.heatmap_aligned):  # random weights often give an empty map: no tint then
        assert np.array_equal(plain, model.aligned_face)
    ramp = np.tile(
        np.linspace(0, 1, model.aligned_face.shape[1], dtype=np.float32),
        (model.aligned_face.shape[0], 1),
    )
    model.heatmap_aligned = ramp
    tinted = render_overlay(result, model, "aligned", "viridis", 0.5)
    assert tinted.shape == model.aligned_face.shape and not np.array_equal(
        tinted, model.aligned_face
    )
    assert not np.array_equal(render_overlay(result, model, "aligned", "jet", 0.5), tinted)
    assert render_overlay(result, model, "photo", "jet", 0.5).shape == result.photo.shape
    window.heatmap.render()
    caption = window.heatmap.caption.text()  # the explained class and the colour bar's scale
    assert "looked for" in caption and "less to more influence" in caption
