"""The main window's actions (each with a shortcut, a tooltip and an icon), menus and toolbar."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar

from dysmorph_desk.gui.exporters import KINDS, unavailable
from dysmorph_desk.gui.qtutil import icon
from dysmorph_desk.utils import paths


def _action(
    win: QMainWindow,
    text: str,
    slot,
    shortcut: str | None = None,
    tip: str = "",
    icon_name: str = "",
) -> QAction:
    act = QAction(icon(icon_name) if icon_name else QIcon(), text, win)
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    key = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    act.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({key})" if key else ""))
    act.setStatusTip(tip)
    act.triggered.connect(lambda _checked=False: slot())
    win.addAction(act)  # shortcuts work even when the menu bar is hidden
    return act


def open_log_folder() -> None:
    paths.log_dir().mkdir(parents=True, exist_ok=True)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.log_dir())))


def show_help_dialog(win, kind: str):
    """Help ▸ Keyboard shortcuts, Third-party licences or About (the module loads on first use)."""
    from dysmorph_desk.gui import about_dialogs

    dialog = {
        "shortcuts": about_dialogs.ShortcutsDialog,
        "licences": about_dialogs.LicencesDialog,
        "about": about_dialogs.AboutDialog,
    }[kind](win)
    dialog.open()
    return dialog


def _export_actions(win, a: SimpleNamespace) -> None:
    """File ▸ Export: one action per kind; FHIR and DICOM need modules imported on first use."""
    a.exports = {
        kind: _action(
            win,
            spec.label,
            lambda kind=kind: win.flow.export(kind),
            "Ctrl+E" if kind == "pdf" else None,
            f"Save the visit's screening as {spec.label.replace('&', '').rstrip('…')}",
            "export" if kind == "pdf" else "",
        )
        for kind, spec in KINDS.items()
    }
    a.export = a.exports["pdf"]
    a.export.setIconText("Export PDF")
    a.has_result = False
    missing: dict[str, str | None] = {}  # kind -> why it cannot be exported (None: it can)

    def refresh() -> None:
        """Check the lazily imported kinds once (when the menu first opens), then enable."""
        for kind, act in a.exports.items():
            if kind not in missing:
                missing[kind] = unavailable(kind)
                if missing[kind] is not None:
                    act.setToolTip(missing[kind])
                    act.setStatusTip(missing[kind])
            act.setEnabled(a.has_result and missing[kind] is None)

    def set_result_actions(on: bool) -> None:
        a.has_result = on
        a.print.setEnabled(on)
        for kind, act in a.exports.items():
            act.setEnabled(on and missing.get(kind) is None)

    a.refresh_exports = refresh
    a.set_result_actions = set_result_actions


def build_actions(win) -> SimpleNamespace:
    a = SimpleNamespace()
    a.new_case = _action(
        win,
        "&New case",
        win.flow.new_case,
        "Ctrl+N",
        "Clear the patient's details and results for the next patient",
    )
    a.save_case = _action(
        win,
        "&Save case",
        win.flow.save,
        "Ctrl+S",
        "File this case's screened photos and results in the case store",
    )
    a.cases = _action(
        win,
        "&Cases…",
        win.flow.open_cases,
        "Ctrl+Shift+O",
        "Search the case store: visits and results over time, re-open or delete a case",
    )
    a.print = _action(win, "&Print…", win.flow.print_report, "Ctrl+P", "Print the screening report")
    a.open = _action(
        win, "&Open photo…", win.open_dialog, "Ctrl+O", "Open a photo to screen", "open"
    )
    a.paste = _action(
        win,
        "&Paste photo",
        win.paste,
        "Ctrl+V",
        "Screen the image (or image file) on the clipboard",
        "paste",
    )
    _export_actions(win, a)
    a.quit = _action(win, "&Quit", win.close, "Ctrl+Q", "Quit DysmorphDesk")
    a.camera = _action(
        win,
        "Start/stop &camera",
        win.toggle_camera,
        "Ctrl+Shift+K",
        "Start or stop the live camera preview",
        "camera",
    )
    a.capture = win.camera_panel.capture_action
    a.cancel = _action(win, "&Cancel", win.cancel, "Esc", "Stop the running screening", "cancel")
    a.landmarks = _action(
        win,
        "Place &landmarks by hand",
        win.place_landmarks,
        "Ctrl+L",
        "Click eyes, nose and mouth corners yourself when no face is found",
        "landmarks",
    )
    a.next_face = _action(
        win, "Next &face", win.next_face, "Ctrl+F", "Screen the next detected face"
    )
    a.models = _action(
        win,
        "&Models…",
        win.open_model_manager,
        "Ctrl+M",
        "Installed models: import, view cards, choose which run",
        "models",
    )
    a.settings = _action(
        win,
        "&Settings…",
        win.open_settings,
        "Ctrl+,",
        "Clinic, report and device settings",
        "settings",
    )
    a.tabs = [
        _action(
            win,
            f"Show {name}",
            lambda i=i: win.tabs.setCurrentIndex(i),
            f"Ctrl+{i + 1}",
            f"Show the {name.lower()}",
        )
        for i, name in enumerate(("Photo", "Camera", "Heatmap", "Comparison", "Differential"))
    ]
    a.guide = _action(
        win,
        "&User guide",
        win.open_guide,
        "F1",
        "How to take photos, read results and heatmaps, and what the model statuses mean",
    )
    a.shortcuts = _action(
        win,
        "&Keyboard shortcuts",
        lambda: show_help_dialog(win, "shortcuts"),
        "Ctrl+/",
        "Every keyboard shortcut of this window",
    )
    a.licences = _action(
        win,
        "Third-party &licences",
        lambda: show_help_dialog(win, "licences"),
        None,
        "The licences of the components",
    )
    a.logs = _action(win, "Open &log folder", open_log_folder, None, "Where errors are logged")
    a.about = _action(
        win,
        "&About DysmorphDesk",
        lambda: show_help_dialog(win, "about"),
        None,
        "Version and installed models",
        "info",
    )
    a.set_result_actions(False)

    bar = win.menuBar()
    m = bar.addMenu("&File")
    m.addActions([a.new_case, a.open, a.paste])
    a.recent_menu = m.addMenu(icon("recent"), "&Recent photos")
    a.recent_menu.aboutToShow.connect(win.fill_recent_menu)
    m.addSeparator()
    m.addActions([a.save_case, a.cases])
    m.addSeparator()
    a.export_menu = m.addMenu(icon("export"), "E&xport")
    a.export_menu.addActions(list(a.exports.values()))
    a.export_menu.aboutToShow.connect(a.refresh_exports)
    m.addAction(a.print)
    m.addSeparator()
    m.addAction(a.quit)
    m = bar.addMenu("&Screening")
    m.addActions([a.cancel, a.landmarks, a.next_face])
    m = bar.addMenu("&Camera")
    m.addActions([a.camera, a.capture])
    m = bar.addMenu("&View")
    m.addActions(a.tabs)
    m = bar.addMenu("&Tools")
    m.addActions([a.models, a.settings])
    m = bar.addMenu("&Help")
    m.addActions([a.guide, a.shortcuts])
    m.addSeparator()
    m.addActions([a.licences, a.logs])
    m.addSeparator()
    m.addAction(a.about)

    tb = QToolBar("Main", win)
    tb.setObjectName("main-toolbar")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tb.addActions([a.new_case, a.open, a.paste, a.camera, a.save_case, a.export])
    tb.addSeparator()
    tb.addAction(a.cancel)
    tb.addSeparator()
    tb.addActions([a.models, a.settings])
    win.addToolBar(tb)
    return a
