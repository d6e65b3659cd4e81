"""The main window's widgets and their arrangement, and its remembered geometry (kept apart from
its behaviour)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.bundles.cards import DEMO_LABEL
from dysmorph_desk.gui.camera import CameraPanel
from dysmorph_desk.gui.case_panel import CasePanel
from dysmorph_desk.gui.heatmap_view import ComparisonView, HeatmapView
from dysmorph_desk.gui.photo_view import PhotoView
from dysmorph_desk.gui.qtutil import icon
from dysmorph_desk.gui.results_view import ResultsView
from dysmorph_desk.utils import paths

if TYPE_CHECKING:  # main_window imports this module
    from dysmorph_desk.gui.main_window import MainWindow


def build_layout(win: MainWindow) -> None:
    """Create the window's widgets as attributes of ``win`` and connect them to its slots."""
    win.banner = QLabel(f"⚠ {DEMO_LABEL[0].upper()}{DEMO_LABEL[1:]}")
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
    row.addWidget(landmarks)
    pl.addLayout(row)
    win.camera_panel = CameraPanel(win.engine, open_video=lambda: win.dialogs.open_video(win))
    win.camera_panel.captured.connect(win.screen_frame)
    win.camera_panel.failed.connect(
        lambda msg: win.dialogs.info(win, "Camera", f"{msg[0].upper()}{msg[1:]}.")
    )
    hm = win.settings.heatmap
    win.heatmap = HeatmapView(hm.colormap, hm.opacity, hm.cam_method)
    win.heatmap.cam_changed.connect(lambda *_: win.rescreen())
    win.heatmap.display_changed.connect(win._refresh_comparison)
    win.compare = ComparisonView()
    win.tabs = QTabWidget()
    win.tabs.addTab(photo_tab, icon("open"), "&Photo")
    win.tabs.addTab(win.camera_panel, icon("camera"), "C&amera")
    win.tabs.addTab(win.heatmap, icon("heatmap"), "&Heatmap")
    win.tabs.addTab(win.compare, icon("compare"), "Co&mpare models")
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
    central = QWidget()
    cl = QVBoxLayout(central)
    cl.setContentsMargins(4, 4, 4, 4)
    cl.addWidget(win.banner)
    cl.addWidget(split, 1)
    win.setCentralWidget(central)
    win.engine_label = QLabel("")
    win.progress = QProgressBar()
    win.progress.setMaximumWidth(220)
    win.progress.setVisible(False)
    win.cancel_button = QPushButton(icon("cancel"), "Cancel")
    win.cancel_button.setToolTip("Stop the running screening (Esc)")
    win.cancel_button.clicked.connect(win.cancel)
    win.cancel_button.setVisible(False)
    sb = win.statusBar()
    sb.addPermanentWidget(win.engine_label)
    sb.addPermanentWidget(win.progress)
    sb.addPermanentWidget(win.cancel_button)
    QWidget.setTabOrder(win.tabs, win.case_panel.patient_id)


def _qsettings() -> QSettings:
    """QSettings holds the window geometry only (an INI file beside settings.json)."""
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


def restore_geometry(win: QMainWindow) -> None:
    qs = _qsettings()
    geometry, state = qs.value("geometry"), qs.value("state")
    if geometry is None or not win.restoreGeometry(geometry):
        win.resize(1280, 820)
    if state is not None:
        win.restoreState(state)


def save_geometry(win: QMainWindow) -> None:
    qs = _qsettings()
    qs.setValue("geometry", win.saveGeometry())
    qs.setValue("state", win.saveState())
    qs.sync()
