"""The main window's widgets and their arrangement, and its remembered state (geometry, splitter
and toolbars), kept apart from its behaviour."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.bundles.cards import DEMO_LABEL
from dysmorph_desk.gui.camera import CameraPanel
from dysmorph_desk.gui.case_panel import CasePanel
from dysmorph_desk.gui.compare_view import ComparisonView
from dysmorph_desk.gui.differential_panel import DifferentialPanel
from dysmorph_desk.gui.heatmap_view import HeatmapView
from dysmorph_desk.gui.help_window import help_link
from dysmorph_desk.gui.photo_view import PhotoView
from dysmorph_desk.gui.qtutil import icon
from dysmorph_desk.gui.results_view import ResultsView
from dysmorph_desk.utils import paths

if TYPE_CHECKING:  # main_window imports this module
    from dysmorph_desk.gui.main_window import MainWindow


MODELS_LABEL_WIDTH = 320  # pixels of model names in the status bar; longer lists are elided


def build_layout(win: MainWindow) -> None:
    """Create the window's widgets as attributes of ``win`` and connect them to its slots."""
    win.banner = QLabel(
        f"⚠ {escape(DEMO_LABEL[0].upper() + DEMO_LABEL[1:])} — "
        "<a href='statuses' style='color: white;'>what this means</a>"
    )
    win.banner.setTextFormat(Qt.TextFormat.RichText)
    win.banner.linkActivated.connect(win.open_guide)
    win.banner.setStyleSheet(
        "QLabel { background: #E65100; color: white; font-weight: bold; padding: 6px; }"
    )
    win.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
    win.banner.setAccessibleName("Demonstration model warning")
    win.banner.setVisible(False)
    win.photo_view = PhotoView()
    win.photo_view.face_clicked.connect(win.choose_face)
    win.photo_view.landmarks_placed.connect(win._on_landmarks)
    win.photo_view.landmark_step.connect(win._on_landmark_step)
    win.face_label = QLabel("")
    win.face_label.setWordWrap(True)
    landmarks = QPushButton(icon("landmarks"), "Place landmarks by hand")
    landmarks.setToolTip("Click both eyes, the nose tip and both mouth corners yourself (Ctrl+L)")
    landmarks.clicked.connect(win.place_landmarks)
    photo_tab = QWidget()
    pl = QVBoxLayout(photo_tab)
    pl.addWidget(win.photo_view, 1)
    row = QHBoxLayout()
    row.addWidget(win.face_label, 1)
    row.addWidget(help_link("photos", "Photo tips", "What makes a photo the models can assess"))
    row.addWidget(landmarks)
    pl.addLayout(row)
    win.camera_panel = CameraPanel(win.engine, open_video=lambda: win.dialogs.open_video(win))
    win.camera_panel.setAccessibleName("Camera tab")
    win.camera_panel.captured.connect(win.screen_frame)
    win.camera_panel.failed.connect(
        lambda msg: win.dialogs.info(win, "Camera", f"{msg[0].upper()}{msg[1:]}.")
    )
    hm = win.settings.heatmap
    win.heatmap = HeatmapView(hm.colormap, hm.opacity, hm.cam_method)
    win.heatmap.cam_changed.connect(win._on_cam_changed)
    win.heatmap.display_changed.connect(win._refresh_comparison)
    win.compare = ComparisonView()
    win.compare.models_requested.connect(win.open_model_manager)
    win.tabs = QTabWidget()
    win.tabs.addTab(photo_tab, icon("open"), "&Photo")
    win.tabs.addTab(win.camera_panel, icon("camera"), "C&amera")
    win.tabs.addTab(win.heatmap, icon("heatmap"), "&Heatmap")
    win.tabs.addTab(win.compare, icon("compare"), "Co&mpare models")
    win.differential = DifferentialPanel(
        win.engine, win.dialogs, lambda: win.flow.session.results(), window_state
    )
    # in a scroll area: its controls need ~550 px, and the window must still shrink to a small screen
    differential_scroll = QScrollArea()
    differential_scroll.setWidgetResizable(True)
    differential_scroll.setFrameShape(QFrame.Shape.NoFrame)
    differential_scroll.setWidget(win.differential)
    win.tabs.addTab(differential_scroll, icon("compare"), "&Differential")
    win.case_panel = CasePanel(win.settings.app.operator)
    win.case_panel.age_changed.connect(win._on_age_changed)
    win.force_box = QCheckBox("Assess despite failed checks")
    win.force_box.setToolTip(
        "Give probabilities even when a hard quality check or the age check failed "
        "(the report says so)"
    )
    win.force_box.toggled.connect(lambda _on: win.rescreen())
    win.results_view = ResultsView()
    right = QWidget()
    rl = QVBoxLayout(right)
    rl.addWidget(win.case_panel)
    rl.addWidget(win.force_box)
    rl.addWidget(win.results_view, 1)
    split = QSplitter()
    split.addWidget(win.tabs)
    split.addWidget(right)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 2)
    split.setSizes([760, 520])
    split.setObjectName("main-splitter")
    win.splitter = split
    central = QWidget()
    cl = QVBoxLayout(central)
    cl.setContentsMargins(4, 4, 4, 4)
    cl.addWidget(win.banner)
    cl.addWidget(split, 1)
    win.setCentralWidget(central)
    win.models_label = QLabel("")
    win.models_label.setTextFormat(Qt.TextFormat.RichText)
    win.models_label.setAccessibleName("Models in use")
    win.models_label.linkActivated.connect(lambda _href: win.open_model_manager())
    win.engine_label = QLabel("")
    win.progress = QProgressBar()
    win.progress.setMaximumWidth(220)
    win.progress.setVisible(False)
    win.cancel_button = QPushButton(icon("cancel"), "Cancel")
    win.cancel_button.setToolTip("Stop the running screening (Esc)")
    win.cancel_button.clicked.connect(win.cancel)
    win.cancel_button.setVisible(False)
    sb = win.statusBar()
    sb.addPermanentWidget(win.models_label)
    sb.addPermanentWidget(win.engine_label)
    sb.addPermanentWidget(win.progress)
    sb.addPermanentWidget(win.cancel_button)
    QWidget.setTabOrder(win.tabs, win.case_panel.patient_id)


def show_models(win: MainWindow) -> None:
    """The models in use, named in the Compare tab's header and the status bar."""
    keys = win.actions_.models.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    win.compare.set_models(win.models, keys)
    names = ", ".join(win.models) or "none"
    shown = win.models_label.fontMetrics().elidedText(
        names, Qt.TextElideMode.ElideRight, MODELS_LABEL_WIDTH
    )  # the whole list is in the tooltip and the Compare tab's header
    win.models_label.setText(f"<a href='models'>Models</a>: {escape(shown)}")
    win.models_label.setToolTip(
        f"Models that screen each photo: {names}. Click to choose"
        + (f" ({keys})." if keys else ".")
    )


def window_state() -> QSettings:
    """The window's remembered state, an INI file beside settings.json: geometry, splitter and
    toolbars, and whether the user has chosen the models (``model_choice``). What the user
    configures (models, heatmap method, …) is in ``Settings``, not here."""
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


def restore_geometry(win: MainWindow) -> None:
    qs = window_state()
    geometry, state = qs.value("geometry"), qs.value("state")
    if geometry is None or not win.restoreGeometry(geometry):
        win.resize(1280, 820)
    if state is not None:
        win.restoreState(state)
    split = qs.value("splitter")
    if split is not None:
        win.splitter.restoreState(split)


def save_geometry(win: MainWindow) -> None:
    qs = window_state()
    qs.setValue("geometry", win.saveGeometry())
    qs.setValue("state", win.saveState())
    qs.setValue("splitter", win.splitter.saveState())
    qs.sync()
