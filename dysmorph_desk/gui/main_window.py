"""The main window: the photo with its faces, results, heatmaps, case details; every model call
goes to the engine and comes back as a signal. How a photo comes in (open, paste, drop, recent,
camera) is its base class ``photo_intake.PhotoIntake``'s; the case itself (New, Save, the
questions before anything is lost, export, print, the Cases view) is ``case_flow.CaseFlow``'s."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
)

from dysmorph_desk.engine import protocol as p
from dysmorph_desk.faces.types import FaceInfo
from dysmorph_desk.gui import tasks
from dysmorph_desk.gui.actions import build_actions
from dysmorph_desk.gui.camera import CameraPanel
from dysmorph_desk.gui.case_flow import CaseFlow
from dysmorph_desk.gui.case_panel import CasePanel
from dysmorph_desk.gui.compare_view import ComparisonView
from dysmorph_desk.gui.dialogs import QUESTIONS, Dialogs
from dysmorph_desk.gui.heatmap_view import HeatmapView
from dysmorph_desk.gui.model_choice import mark_models_chosen, models_at_start, remember
from dysmorph_desk.gui.photo_intake import PhotoIntake
from dysmorph_desk.gui.photo_view import PhotoView
from dysmorph_desk.gui.printing import clean_print_folder
from dysmorph_desk.gui.qtutil import icon
from dysmorph_desk.gui.recent import RecentFiles
from dysmorph_desk.gui.results_view import ResultsView
from dysmorph_desk.gui.window_layout import (
    build_layout,
    restore_geometry,
    save_geometry,
    show_models,
)
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.results import ScreeningResult
from dysmorph_desk.settings import Settings

if TYPE_CHECKING:  # imported where used: the dialogs load on demand, the engine is passed in
    from dysmorph_desk.gui.differential_panel import DifferentialPanel
    from dysmorph_desk.gui.engine import EngineBase
    from dysmorph_desk.gui.help_window import GuideWindow
    from dysmorph_desk.gui.model_manager import ModelManager
    from dysmorph_desk.gui.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)
PHOTO_TAB, CAMERA_TAB, HEATMAP_TAB, COMPARE_TAB, DIFFERENTIAL_TAB = range(5)


class MainWindow(PhotoIntake):
    result_shown = Signal(object)  # ScreeningResult, once it is on screen
    screen_failed = Signal(str)

    # The widgets, created by ``window_layout.build_layout``.
    banner: QLabel
    photo_view: PhotoView
    face_label: QLabel
    camera_panel: CameraPanel
    heatmap: HeatmapView
    compare: ComparisonView
    differential: DifferentialPanel
    tabs: QTabWidget
    splitter: QSplitter
    case_panel: CasePanel
    force_box: QCheckBox
    results_view: ResultsView
    models_label: QLabel
    engine_label: QLabel
    progress: QProgressBar
    cancel_button: QPushButton

    def __init__(
        self,
        engine: EngineBase,
        settings: Settings | None = None,
        dialogs: Dialogs | None = None,
        models: list[str] | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__()
        self.engine, self.dialogs = engine, dialogs or Dialogs()
        self.settings = settings or Settings.load()
        # --models: this run only; otherwise the user's choice, or every demonstration model
        self.models = list(models or models_at_start(self.settings))
        self._device = device  # from the command line: this run only, never saved
        self.recent = RecentFiles(self.settings.app.remember_photo_names)
        self.result: ScreeningResult | None = None
        self.result_id: int | None = None  # the engine's id of this result
        self.faces: list[FaceInfo] = []
        self.source: str | bytes | None = None  # a file path, or a frame's PNG bytes
        self.photo_key = ""
        self.photo_scale = 1.0
        self._manual: np.ndarray | None = None
        self._screen_id: int | None = None
        self._config_id: int | None = None
        self._t_submit = 0.0
        self.last_screen_seconds = float("nan")
        self.discard_on_close = False  # True: quit without asking about the case (benchmarks)
        self.guide: GuideWindow | None = None
        self.setWindowTitle("DysmorphDesk")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        build_layout(self)
        self.flow = CaseFlow(self)
        self.actions_ = build_actions(self)
        show_models(self)
        engine.replied.connect(self._on_reply)
        engine.progressed.connect(self._on_progress)
        engine.photo_ready.connect(self._on_photo_ready)
        engine.state_changed.connect(self._on_state)
        engine.died.connect(self._on_died)
        restore_geometry(self)
        self._on_state(engine.state)
        QTimer.singleShot(0, self.flow.probe_store)  # says once if the case store is unusable

    def _ask(self, kind: str, **values: object) -> str:
        """Every question the window asks (``dialogs.QUESTIONS``); tests replace this method."""
        return self.dialogs.ask(self, kind, QUESTIONS[kind].format(**values))

    # -- screening ---------------------------------------------------------------------------------

    def _new_photo(self, source: str | bytes) -> None:
        self.clear_photo("Screening…")
        self.source, self.photo_key = source, uuid.uuid4().hex
        self.tabs.setCurrentIndex(PHOTO_TAB)
        self._submit(1)

    def clear_photo(self, message: str = "Open a photo to screen it.") -> None:
        """No photo and no results on screen (a new photo, or New case)."""
        if self._screen_id is not None:
            self.engine.cancel(self._screen_id)
            self._screen_id = None
        self.source, self.photo_key, self._manual = None, "", None
        self.result, self.result_id, self.faces = None, None, []
        self.actions_.set_result_actions(bool(self.flow.session.photos))  # the visit's photos
        self.photo_view.set_photo(None)
        self.face_label.setText("")
        self.results_view.set_message(message)
        self.heatmap.set_result(None)
        self._refresh_comparison()
        self._update_banner()
        self._on_state(self.engine.state)

    def _submit(self, face_index: int) -> None:
        if self.source is None:
            return
        if self._screen_id is not None:
            self.engine.cancel(self._screen_id)
        options = ScreenOptions(
            face_index=face_index,
            cam_method=self.heatmap.cam_method,
            cam_target=self.heatmap.cam_target,
            force_assess=self.force_box.isChecked(),
            manual_landmarks=self._manual,
            max_pixels=self.settings.screening.max_pixels,
        )
        req = p.Screen(self.source, self.photo_key, self.case_panel.case(), options)
        self._t_submit = time.perf_counter()
        self._screen_id = self.engine.submit(req)
        self._on_state(self.engine.state)  # show the busy state and Cancel for this request

    def rescreen(self) -> None:
        if self.source is not None and (self.result is not None or self._screen_id is not None):
            self._submit(self.result.face_index if self.result else 1)

    def choose_face(self, index: int) -> None:
        self.photo_view.select(index)
        self._submit(index)

    def next_face(self) -> None:
        if len(self.faces) > 1 and self.result is not None:
            self.choose_face(self.result.face_index % len(self.faces) + 1)

    def place_landmarks(self) -> None:
        if not self.photo_view.has_photo():
            self.dialogs.info(self, "Landmarks", "Open a photo first.")
            return
        self.tabs.setCurrentIndex(PHOTO_TAB)
        self.photo_view.setFocus()
        self.photo_view.start_landmarks()

    def _on_landmark_step(self, n: int) -> None:
        if n < 0:
            self.face_label.setText("Landmark placement cancelled.")
        elif n < 5:
            prefix = "No face found. " if not self.faces else ""
            self.face_label.setText(
                f"{prefix}Place the landmarks by hand: click the "
                f"{self.photo_view.next_landmark_name()} ({n + 1} of 5)."
            )

    def _on_landmarks(self, points: np.ndarray) -> None:
        self._manual = points / self.photo_scale  # displayed-photo pixels -> original pixels
        self.face_label.setText("Landmarks placed by hand; screening…")
        self._submit(1)

    def cancel(self) -> None:
        if self.photo_view.placing:
            self.photo_view.cancel_landmarks()
            self._on_landmark_step(-1)
        elif self._screen_id is not None:
            self.engine.cancel(self._screen_id)
            self.statusBar().showMessage("Cancelling…", 3000)

    def _on_cam_changed(self, method: str, _target: str) -> None:
        """Another heatmap method (kept for the next start) or target class: screen again."""
        if method != self.settings.heatmap.cam_method:
            remember(self, heatmap=replace(self.settings.heatmap, cam_method=method))
        self.rescreen()

    def _on_age_changed(self) -> None:
        self.flow.rescreen_stale()  # the photo on screen and the visit's other photos

    # -- engine messages ---------------------------------------------------------------------------

    def _on_photo_ready(self, msg: p.PhotoReady) -> None:
        if msg.req_id != self._screen_id:
            return
        self.photo_scale = msg.photo_scale
        self.faces = msg.faces
        self.photo_view.set_photo(msg.photo)
        self.photo_view.set_faces(msg.faces, 1)
        self._describe_faces()

    def _on_progress(self, msg: p.Progress) -> None:
        if msg.req_id in (self._screen_id, self._config_id):
            self.progress.setRange(0, 100)
            self.progress.setValue(round(100 * msg.fraction))
            self.progress.setFormat(msg.stage)

    def _on_reply(self, reply: p.Reply) -> None:
        if reply.req_id == self._screen_id:
            self._screen_id = None
            self._on_screened(reply)
        elif self.flow.handle_reply(reply):
            pass
        elif reply.req_id == self._config_id or isinstance(reply.value, p.Configured):
            self._on_configured(reply)

    def _on_screened(self, reply: p.Reply) -> None:
        if not reply.ok:
            if reply.error_type == "Interrupted":
                self.statusBar().showMessage("Screening cancelled.", 5000)
                self.results_view.set_message("Screening cancelled.")
                return
            self._show_error("Cannot screen this photo", reply)
            return
        self.result, faces = reply.value.result, reply.value.faces
        self.result_id = reply.value.result_id
        self.last_screen_seconds = time.perf_counter() - self._t_submit
        if faces:
            self.faces = faces
            self.photo_view.set_faces(faces, self.result.face_index)
        else:  # landmarks by hand: show the face the core built from them (displayed-photo pixels)
            self.photo_view.set_faces([self.result.face], 1)
        self._describe_faces()
        self.results_view.set_result(self.result)
        self.heatmap.set_result(self.result)
        self._refresh_comparison()
        self.case_panel.set_age_ranges(
            {
                r.model: r.card.age_range_months
                for r in self.result.results
                if r.card.age_range_months
            }
        )
        self._update_banner()
        self.actions_.set_result_actions(True)
        self.flow.screened(self.photo_key, self.source, self.result, self._manual)
        self.statusBar().showMessage(f"Screened in {1000 * self.last_screen_seconds:.0f} ms.", 5000)
        self.result_shown.emit(self.result)

    def _show_error(self, title: str, reply: p.Reply) -> None:
        self.results_view.set_message(f"Cannot screen: {reply.error}", error=True)
        self.screen_failed.emit(reply.error)
        if reply.error_type == "FaceRefused" and not self.faces and self.photo_view.has_photo():
            self.place_landmarks()
        elif reply.error_type not in ("FaceRefused", "EngineDied"):
            if not reply.user_error:
                log.error("engine error: %s\n%s", reply.error, reply.details)
            self.dialogs.error(self, title, reply.error, "" if reply.user_error else reply.details)

    def _describe_faces(self) -> None:
        n = len(self.faces)
        if n > 1:
            chosen = self.result.face_index if self.result else 1
            self.face_label.setText(
                f"{n} faces found; screening face {chosen} (green). Click another face "
                "to screen it instead (Ctrl+F: next face)."
            )
        elif n == 1:
            self.face_label.setText("One face found.")
        elif self._manual is None:
            self.face_label.setText("No face found yet.")

    def _refresh_comparison(self) -> None:
        self.compare.set_result(self.result, self.heatmap.colormap, self.heatmap.alpha)

    def _update_banner(self) -> None:
        statuses = [
            b.status for b in (self.engine.configured.bundles if self.engine.configured else [])
        ]
        if self.result is not None:
            statuses += [r.card.status for r in self.result.results]
        self.banner.setVisible("demonstration" in statuses)

    def _on_state(self, state: str) -> None:
        busy = state in ("busy", "starting")
        labels = {
            "starting": "Loading models…",
            "ready": "Ready",
            "busy": "Working…",
            "dead": "Engine stopped",
            "stopped": "Engine stopped",
        }
        self.engine_label.setText(labels.get(state, state))
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # indeterminate until the engine reports progress
        self.cancel_button.setVisible(state == "busy" and self._screen_id is not None)

    def _on_died(self, message: str) -> None:
        self.dialogs.error(self, "Screening engine", message)

    def _on_configured(self, reply: p.Reply) -> None:
        conf = reply.value if reply.ok else None
        errors = conf.errors if conf else [reply.error]
        self._update_banner()
        if errors:
            text = "Some models could not be loaded: " + "; ".join(errors)
            if conf is not None and not conf.bundles:
                text = (
                    "No model is loaded: "
                    + "; ".join(errors)
                    + ". Import a model in Tools ▸ Models."
                )
            self.statusBar().showMessage(text, 15000)
            if self.result is None:
                self.results_view.set_message(text, error=True)

    def configure_engine(self) -> None:
        self._config_id = self.engine.configure(
            p.Configure(
                list(self.models),
                self._device or self.settings.screening.device,
                self.settings.screening.threads,
            )
        )

    # -- the case ---------------------------------------------------------------------------------

    def export_pdf(self) -> None:
        self.flow.export("pdf")

    # -- tools -------------------------------------------------------------------------------------

    def toggle_camera(self) -> None:
        self.tabs.setCurrentIndex(CAMERA_TAB)
        self.camera_panel.toggle()

    def open_model_manager(self) -> ModelManager:
        from dysmorph_desk.gui.model_manager import ModelManager

        dialog = ModelManager(self.engine, self.dialogs, self.models, self, self.case_panel.case())
        dialog.selection_changed.connect(self.choose_models)
        dialog.open()
        return dialog

    def set_models(self, names: list[str]) -> None:
        self.models = list(names)
        show_models(self)
        self.configure_engine()
        self.rescreen()

    def choose_models(self, names: list[str]) -> None:
        """The user's choice in the Models dialog: used now and at the next start."""
        remember(self, screening=replace(self.settings.screening, default_models=tuple(names)))
        mark_models_chosen()
        self.set_models(names)

    def open_settings(self) -> SettingsDialog:
        from dysmorph_desk.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.dialogs, self, models_at_start(self.settings))
        dialog.saved.connect(self.apply_settings)
        dialog.open()
        return dialog

    def apply_settings(self, new: Settings) -> None:
        old, self.settings = self.settings, new
        self.recent.set_enabled(new.app.remember_photo_names)
        self.heatmap.set_colormap(new.heatmap.colormap)
        if new.heatmap.cam_method != old.heatmap.cam_method:
            self.heatmap.method_box.setCurrentIndex(
                max(0, self.heatmap.method_box.findData(new.heatmap.cam_method))
            )
        if not self.case_panel.operator.text():
            self.case_panel.operator.setText(new.app.operator)
        device_changed = new.screening.device != old.screening.device
        if device_changed:
            self._device = None
        if device_changed or new.screening.default_models != old.screening.default_models:
            self.models = list(new.screening.default_models)
            show_models(self)
            self.configure_engine()

    # -- help --------------------------------------------------------------------------------------

    def open_guide(self, page: str = "index") -> GuideWindow | None:
        """Help ▸ User guide (F1), or the page a "?" link names; a missing guide is said."""
        from dysmorph_desk.gui.help_window import show_guide

        self.guide = show_guide(self, page, self.dialogs, self.guide)
        return self.guide

    # -- window state ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.discard_on_close and not self.flow.confirm_discard(quitting=True):
            event.ignore()
            return
        tasks.wait_all()  # an export being written is finished, never cut off
        self.flow.store.close()
        clean_print_folder()
        save_geometry(self)
        self.camera_panel.stop()
        self.engine.shutdown()
        super().closeEvent(event)
