"""The main window's actions (each with a shortcut, a tooltip and an icon), menus and toolbar."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar

from dysmorph_desk import __version__
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


def about(win) -> None:
    win.dialogs.info(
        win,
        "About DysmorphDesk",
        f"DysmorphDesk {__version__}\nAn offline screening aid — "
        "not a diagnosis. Results must be reviewed by a qualified clinician.",
    )


def build_actions(win) -> SimpleNamespace:
    a = SimpleNamespace()
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
    a.export = _action(
        win,
        "&Export PDF report…",
        win.export_pdf,
        "Ctrl+E",
        "Save the screening report as a PDF",
        "export",
    )
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
        for i, name in enumerate(("Photo", "Camera", "Heatmap", "Comparison"))
    ]
    a.logs = _action(win, "Open &log folder", open_log_folder, None, "Where errors are logged")
    a.about = _action(win, "&About DysmorphDesk", lambda: about(win), "F1", "", "info")
    a.export.setEnabled(False)

    bar = win.menuBar()
    m = bar.addMenu("&File")
    m.addActions([a.open, a.paste])
    a.recent_menu = m.addMenu(icon("recent"), "&Recent photos")
    a.recent_menu.aboutToShow.connect(win.fill_recent_menu)
    m.addSeparator()
    m.addAction(a.export)
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
    m.addActions([a.about, a.logs])

    tb = QToolBar("Main", win)
    tb.setObjectName("main-toolbar")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tb.addActions([a.open, a.paste, a.camera, a.export])
    tb.addSeparator()
    tb.addAction(a.cancel)
    tb.addSeparator()
    tb.addActions([a.models, a.settings])
    win.addToolBar(tb)
    return a
