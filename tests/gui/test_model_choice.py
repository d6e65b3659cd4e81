"""Which models run: every demonstration bundle until the user chooses; the choice and the heatmap
method are kept for the next start and shown (Compare tab header, status bar); with fewer than two
models the Compare tab links to the Models dialog; the Models dialog fits 1280×800."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt

from dysmorph_desk.bundles.format import find_bundles
from dysmorph_desk.gui.compare_view import models_header
from dysmorph_desk.gui.engine import InProcessEngine
from dysmorph_desk.gui.main_window import MainWindow
from dysmorph_desk.gui.model_choice import models_at_start, models_chosen
from dysmorph_desk.gui.model_manager import ModelManager, initial_size
from dysmorph_desk.gui.settings_dialog import SettingsDialog
from dysmorph_desk.settings import ScreeningSection, Settings

# the shipped demonstration bundles, in listing (name) order
SHIPPED = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "models").glob("*.ddbundle")
)
TIMEOUT = 30_000


def test_every_demonstration_model_runs_until_the_user_chooses():
    infos = find_bundles()
    assert [i.name for i in infos] == SHIPPED  # this test's home has no user bundles
    assert models_at_start(Settings(), chosen=False, infos=infos) == SHIPPED
    assert models_at_start(Settings(), chosen=True, infos=infos) == ["demo-hybrid"]
    other = Settings(screening=ScreeningSection(default_models=("demo-resnet18",)))
    assert models_at_start(other, chosen=False, infos=infos) == ["demo-resnet18"]
    research = [i for i in infos if i.name != "demo-hybrid"]
    for info in research:
        info.card.status = "research"
    assert models_at_start(Settings(), chosen=False, infos=research) == ["demo-hybrid"]


def test_a_fresh_window_compares_all_demonstration_models(qtbot, dialogs):
    win = MainWindow(InProcessEngine(), Settings(), dialogs)
    qtbot.addWidget(win)
    assert win.models == SHIPPED
    assert win.compare.header.text().startswith(f"Comparing {len(SHIPPED)} models:")
    assert SHIPPED[0] in win.models_label.text()  # elided to fit the status bar ...
    assert all(name in win.models_label.toolTip() for name in SHIPPED)  # ... all in the tooltip


def test_header_links_to_models_when_fewer_than_two():
    one = models_header(["demo-hybrid"])
    assert "Only one model is on" in one and "href='models'>Models…</a>" in one
    assert "href='models'" in models_header([])
    assert models_header(["a", "<b>"]).startswith("Comparing 2 models: <b>a</b>, <b>&lt;b&gt;</b>")


def test_compare_link_opens_models_and_the_choice_is_kept(qtbot, window):
    header = window.compare.header.text()
    assert window.models == ["test-hybrid"] and "Only one model is on" in header
    assert "Models…</a> (Ctrl+M)" in header  # the action's own shortcut
    window.compare.header.linkActivated.emit("models")
    [manager] = [m for m in window.findChildren(ModelManager) if m.isVisible()]
    manager.set_checked(["test-hybrid", "demo-resnet18"])
    with qtbot.waitSignal(window.engine.replied, timeout=TIMEOUT):
        manager.apply()
    assert window.models == ["demo-resnet18", "test-hybrid"]  # in the dialog's order
    assert window.compare.header.text().startswith("Comparing 2 models:")
    assert Settings.load().screening.default_models == ("demo-resnet18", "test-hybrid")
    assert models_chosen()
    manager.set_checked(["demo-hybrid"])  # the built-in default, chosen: kept as chosen
    with qtbot.waitSignal(window.engine.replied, timeout=TIMEOUT):
        manager.apply()
    again = MainWindow(InProcessEngine(), Settings.load(), window.dialogs)
    qtbot.addWidget(again)
    assert again.models == ["demo-hybrid"]
    cli = MainWindow(InProcessEngine(), Settings.load(), window.dialogs, models=["demo-resnet18"])
    qtbot.addWidget(cli)
    assert cli.models == ["demo-resnet18"]  # --models: this run only
    assert Settings.load().screening.default_models == ("demo-hybrid",)


def test_heatmap_method_is_kept_and_shown(qtbot, window):
    box = window.heatmap.method_box
    box.setCurrentIndex(box.findData("hirescam"))
    box.activated.emit(box.currentIndex())  # what a user's choice in the box sends
    assert Settings.load().heatmap.cam_method == "hirescam"
    again = MainWindow(InProcessEngine(), Settings.load(), window.dialogs)
    qtbot.addWidget(again)
    assert again.heatmap.method_box.currentData() == "hirescam"
    assert again.heatmap.method_box.currentText() == box.currentText()


def test_settings_dialog_shows_the_start_models(qtbot, dialogs):
    dialog = SettingsDialog(Settings(), dialogs, None, SHIPPED)
    qtbot.addWidget(dialog)
    checked = [
        dialog.models.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(dialog.models.count())
        if dialog.models.item(i).checkState() == Qt.CheckState.Checked
    ]
    assert checked == SHIPPED
    dialog.clinic.setText("Clinic")  # saving other settings is not a choice of models
    dialog.save()
    assert not models_chosen() and Settings.load().screening.default_models == ("demo-hybrid",)
    again = SettingsDialog(Settings.load(), dialogs, None, SHIPPED)
    qtbot.addWidget(again)
    hybrid = next(
        again.models.item(i)
        for i in range(again.models.count())
        if again.models.item(i).data(Qt.ItemDataRole.UserRole) == "demo-hybrid"
    )
    hybrid.setCheckState(Qt.CheckState.Unchecked)
    again.save()
    assert models_chosen()
    assert Settings.load().screening.default_models == tuple(
        n for n in SHIPPED if n != "demo-hybrid"
    )


def test_models_dialog_fits_1280_by_800_without_scrolling(qtbot, dialogs, installed_bundle):
    size = initial_size(QSize(1280, 800))
    assert size.width() <= 1280 and size.height() <= 800
    assert initial_size(QSize(1024, 700)).width() <= 1024
    manager = ModelManager(InProcessEngine(), dialogs, ["test-hybrid"])
    qtbot.addWidget(manager)
    manager.resize(size)
    manager.show()
    qtbot.waitExposed(manager)
    assert manager.table.rowCount() == len(SHIPPED) + 1  # the shipped and the installed test bundle
    table = manager.table
    qtbot.waitUntil(lambda: table.horizontalScrollBar().maximum() == 0)
    assert table.verticalScrollBar().maximum() == 0
    validation = table.item(0, 4)
    row_height, text_lines = table.rowHeight(0), validation.text().count("\n") + 1
    assert row_height >= text_lines * table.fontMetrics().height()  # wrapped, not cut
