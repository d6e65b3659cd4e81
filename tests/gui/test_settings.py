"""Settings persist across runs (JSON); the window remembers its geometry (QSettings)."""

from __future__ import annotations

from dysmorph_desk.gui.engine import InProcessEngine
from dysmorph_desk.gui.main_window import MainWindow
from dysmorph_desk.gui.settings_dialog import SettingsDialog
from dysmorph_desk.settings import Settings


def test_settings_persist(qtbot, dialogs, tmp_path):
    dialog = SettingsDialog(Settings.load(), dialogs)
    qtbot.addWidget(dialog)
    dialog.clinic.setText("Klinik Süd")
    dialog.paper.setCurrentText("Letter")
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.cam.setCurrentIndex(dialog.cam.findData("hirescam"))
    dialog.colormap.setCurrentIndex(dialog.colormap.findData("viridis"))
    dialog.folder.setText(str(tmp_path))
    dialog.remember.setChecked(True)
    dialog.store.setText(str(tmp_path / "store"))
    dialog.keep_photos.setChecked(False)
    dialog.export_photos.setChecked(True)
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    loaded = Settings.load()
    assert (
        loaded.report.clinic_name,
        loaded.report.paper,
        loaded.screening.device,
        loaded.heatmap.cam_method,
        loaded.heatmap.colormap,
    ) == ("Klinik Süd", "Letter", "cpu", "hirescam", "viridis")
    assert loaded.report.folder == str(tmp_path) and loaded.app.remember_photo_names
    assert loaded.records.store_path == str(tmp_path / "store")
    assert not loaded.records.keep_photos and loaded.records.export_photos
    again = SettingsDialog(Settings.load(), dialogs)
    qtbot.addWidget(again)
    assert again.clinic.text() == "Klinik Süd" and again.paper.currentText() == "Letter"


def test_window_remembers_its_geometry(qtbot, dialogs):
    first = MainWindow(InProcessEngine(), Settings(), dialogs)
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # the offscreen screen is 800x600; restoring clamps to it
    qtbot.waitUntil(lambda: first.width() == 700)
    first.close()
    second = MainWindow(InProcessEngine(), Settings(), dialogs)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 500)


def test_settings_apply_to_the_open_window(qtbot, window):
    from dataclasses import replace

    s = window.settings
    window.apply_settings(
        replace(
            s,
            heatmap=replace(s.heatmap, colormap="cividis"),
            app=replace(s.app, operator="Dr. A"),
        )
    )
    assert window.heatmap.colormap == "cividis" and window.case_panel.operator.text() == "Dr. A"
