"""Webcam: camera picker, live preview with the tracked face box and a quality hint, Capture.

The picker lists only cameras that open: they are probed (``frames.probe_cameras``, injectable)
on a background thread when the Camera tab is first shown and on Refresh, never at start-up (that
would compete with the engine's start) and never on the UI thread.

Frames are read by a ``FrameGrabber`` thread from any ``FrameSource`` (camera, video file,
generated frames) and only the newest is kept. The preview paints every frame; face detection
runs in the engine worker on a downscaled copy, one frame at a time: frames that arrive while the
worker is busy are simply not sent, and the last box is drawn until a new one comes back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QRectF, QSize, Qt, QThread, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QImage,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPen,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.engine import protocol as p
from dysmorph_desk.faces.types import FaceInfo
from dysmorph_desk.gui.frames import (
    NO_CAMERA,
    CameraUnavailable,
    FrameSource,
    OpenCVSource,
    Pacer,
    VideoFileSource,
    probe_cameras,
)
from dysmorph_desk.gui.qtutil import icon, to_qimage

if TYPE_CHECKING:
    from dysmorph_desk.gui.engine import EngineBase

log = logging.getLogger(__name__)
SourceFactory = Callable[[], FrameSource]
CAMERA_OFF = "Camera off. Choose a camera and press Start (Ctrl+Shift+K)."
CameraProbe = Callable[[], list[int]]  # blocking; returns the indices of cameras that open


class _ProbeRelay(QObject):
    """Carries a probe's answer from its thread to the UI thread (a queued signal)."""

    done = Signal(int, object)  # generation, list of indices (or an error message)


class FrameGrabber(QThread):
    frame_ready = Signal()
    failed = Signal(str)
    ended = Signal()

    def __init__(self, factory: SourceFactory) -> None:
        super().__init__()
        self._factory = factory
        self._lock = threading.Lock()
        self._latest: np.ndarray | None = None
        self._signalled = False
        self._stop = False
        self.frames_read = 0

    def run(self) -> None:
        try:
            source = self._factory()
        except CameraUnavailable as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a driver error: a message, not a crash
            log.warning("camera could not be started", exc_info=True)
            self.failed.emit(f"the camera could not be started ({type(exc).__name__}: {exc})")
            return
        pacer = Pacer(getattr(source, "fps", None))
        try:
            while not self._stop:
                frame = source.read()
                if frame is None:
                    if not self._stop:
                        self.ended.emit()
                    break
                with self._lock:
                    self._latest = frame
                    self.frames_read += 1
                    notify = not self._signalled
                    self._signalled = True
                if notify:
                    self.frame_ready.emit()
                pacer.wait()
        finally:
            source.close()

    def take(self) -> np.ndarray | None:
        with self._lock:
            self._signalled = False
            return self._latest

    def stop(self) -> None:
        self._stop = True
        self.wait(3000)


class FrameView(QWidget):
    """Paints the live frame, the last detected face box and the hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Camera preview")
        self.image: QImage | None = None
        self.frame_size = (0, 0)
        self.faces: list[FaceInfo] = []
        self.hint = ""
        self.text = CAMERA_OFF

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def set_frame(self, frame: np.ndarray) -> None:
        self.image = to_qimage(frame)
        self.frame_size = (frame.shape[1], frame.shape[0])
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#202020"))
        if self.image is None:
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.text
            )
            return
        w, h = self.frame_size
        s = min(self.width() / w, self.height() / h)
        target = QRectF((self.width() - w * s) / 2, (self.height() - h * s) / 2, w * s, h * s)
        painter.drawImage(target, self.image)
        ok = not self.hint
        painter.setPen(QPen(QColor("#00C853") if ok else QColor("#FFAB00"), 3))
        for face in self.faces[:1]:
            x0, y0, x1, y1 = face.box
            painter.drawRect(
                QRectF(target.x() + x0 * s, target.y() + y0 * s, (x1 - x0) * s, (y1 - y0) * s)
            )
        if self.hint:
            painter.fillRect(
                QRectF(target.x(), target.bottom() - 30, target.width(), 30), QColor(0, 0, 0, 160)
            )
            painter.setPen(QColor("#FFD54F"))
            painter.drawText(
                QRectF(target.x() + 8, target.bottom() - 30, target.width() - 16, 30),
                Qt.AlignmentFlag.AlignVCenter,
                self.hint,
            )


class CameraPanel(QWidget):
    captured = Signal(object)  # RGB frame
    failed = Signal(str)  # no camera, or it stopped
    running_changed = Signal(bool)

    def __init__(
        self,
        engine: EngineBase,
        open_video: Callable[[], str | None] | None = None,
        parent: QWidget | None = None,
        *,
        probe: CameraProbe | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self._open_video = open_video
        self.grabber: FrameGrabber | None = None
        self._old_grabbers: list[FrameGrabber] = []
        self.last_frame: np.ndarray | None = None
        self._preview_id: int | None = None
        self.displayed = 0
        self.detections = 0
        self._times: deque[float] = deque(maxlen=90)
        self.probe: CameraProbe = probe or probe_cameras
        self.cameras: list[int] | None = None  # None: not probed yet
        self.probing = False
        self._probe_gen = 0
        self._start_after_probe = False
        self._running_index: int | None = None
        self._relay = _ProbeRelay(self)
        self._relay.done.connect(self._on_probed)
        self.camera_box = QComboBox()
        self.camera_box.setToolTip("Which camera to use (or play a video file)")
        self.camera_box.setAccessibleName("Camera")
        # Sized for "Camera 1", not for the longest entry: keeps the window's minimum width.
        self.camera_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.camera_box.setMinimumContentsLength(9)
        self.refresh_action = QAction("&Refresh", self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_action.setToolTip("Look for connected cameras again (F5)")
        self.refresh_action.triggered.connect(self.refresh_cameras)
        self.addAction(self.refresh_action)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip(self.refresh_action.toolTip())
        self.refresh_button.setAccessibleName("Refresh the camera list")
        self.refresh_button.clicked.connect(self.refresh_cameras)
        self._fill_camera_box()
        self.start_button = QPushButton(icon("camera"), "Start")
        self.start_button.setToolTip("Start or stop the camera preview (Ctrl+Shift+K)")
        self.start_button.clicked.connect(self.toggle)
        self.capture_action = QAction(icon("capture"), "&Capture", self)
        self.capture_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.capture_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.capture_action.setToolTip("Screen the current frame (Space)")
        self.capture_action.setEnabled(False)
        self.capture_action.triggered.connect(self.capture)
        self.addAction(self.capture_action)
        self.capture_button = QPushButton(icon("capture"), "Capture (Space)")
        self.capture_button.setToolTip(self.capture_action.toolTip())
        self.capture_button.setEnabled(False)
        self.capture_button.clicked.connect(self.capture)
        self.view = FrameView()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        source_label = QLabel("&Source:")
        source_label.setBuddy(self.camera_box)
        top.addWidget(source_label)
        top.addWidget(self.camera_box, 1)
        top.addWidget(self.start_button)
        top.addWidget(self.capture_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.refresh_button)
        layout.addLayout(bottom)
        engine.replied.connect(self._on_reply)

    # -- control -----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.grabber is not None

    def toggle(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start_selected()

    def start_selected(self) -> None:
        choice = self.camera_box.currentData()
        if choice == "file":
            path = self._open_video() if self._open_video else None
            if not path:
                return
            self.start_source(lambda: VideoFileSource(path, loop=True))
        elif isinstance(choice, int):
            self.start_source(partial(OpenCVSource, choice))
            self._running_index = choice
        elif self.probing or self.cameras is None:  # start once the cameras are known
            self._start_after_probe = True
            self.status.setText("Looking for cameras…")
            if not self.probing:
                self.refresh_cameras()
        else:
            self._on_failed(NO_CAMERA)

    # -- camera list -------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.cameras is None and not self.probing:
            self.refresh_cameras()

    def refresh_cameras(self) -> None:
        """Probe the cameras on a background thread; the list is refilled when it answers."""
        if self.probing:
            return
        self.probing = True
        self._probe_gen += 1
        gen, probe, relay = self._probe_gen, self.probe, self._relay

        def run() -> None:
            try:
                found: object = [int(i) for i in probe()]
            except Exception as exc:  # a driver error: a message, not a crash
                log.warning("looking for cameras failed", exc_info=True)
                found = f"looking for cameras failed ({type(exc).__name__}: {exc})"
            with contextlib.suppress(RuntimeError):  # the panel was closed meanwhile
                relay.done.emit(gen, found)

        self._fill_camera_box()
        if not self.running:
            self.status.setText("Looking for cameras…")
        # A plain daemon thread, not a QThread: a driver that never returns must not keep the app
        # from quitting (a running QThread would abort it on exit).
        threading.Thread(target=run, name="dd-camera-probe", daemon=True).start()

    def _on_probed(self, gen: int, found: object) -> None:
        if gen != self._probe_gen:
            return
        self.probing = False
        error = found if isinstance(found, str) else None
        self.cameras = list(found) if isinstance(found, list) else []  # [] on error
        self._fill_camera_box()
        if not self.running:  # a running preview keeps its own status line
            if error:
                self.status.setText(error)
            elif self.cameras:
                n = len(self.cameras)
                self.status.setText(
                    f"{n} camera{'s' if n > 1 else ''} found. Press Start (Ctrl+Shift+K)."
                )
                if self.view.image is None:
                    self.view.text = CAMERA_OFF
                    self.view.update()
            else:
                self.status.setText(f"{NO_CAMERA[0].upper()}{NO_CAMERA[1:]}.")
                if self.view.image is None:
                    self.view.text = f"{NO_CAMERA[0].upper()}{NO_CAMERA[1:]}."
                    self.view.update()
        if self._start_after_probe:
            self._start_after_probe = False
            if not self.running:
                self.start_selected()

    def _fill_camera_box(self) -> None:
        """Cameras found (plus the one running, which a probe cannot open), then the video file."""
        previous = self.camera_box.currentData()
        self.camera_box.blockSignals(True)
        self.camera_box.clear()
        if self.probing or self.cameras is None:
            self.camera_box.addItem("Looking for cameras…", None)
        indices = sorted(
            set(self.cameras or [])
            | ({self._running_index} if self.running and self._running_index is not None else set())
        )
        for i in indices:
            self.camera_box.addItem(f"Camera {i + 1}", i)
        if not indices and not self.probing and self.cameras is not None:
            self.camera_box.addItem("No camera found", None)
        self.camera_box.addItem("Video file…", "file")
        keep = self.camera_box.findData(previous) if previous is not None else -1
        self.camera_box.setCurrentIndex(max(keep, 0))
        self.camera_box.blockSignals(False)
        self.refresh_button.setEnabled(not self.probing)
        self.refresh_action.setEnabled(not self.probing)

    def camera_choices(self) -> list[str]:
        """The picker's entries, as shown (tests, accessibility checks)."""
        return [self.camera_box.itemText(i) for i in range(self.camera_box.count())]

    def start_source(self, factory: SourceFactory) -> None:
        self.stop()
        self._running_index = None
        self.displayed = self.detections = 0
        self._times.clear()
        self.view.faces, self.view.hint, self.view.image = [], "", None
        self.view.text = "Starting the camera…"
        self.view.update()
        self.status.setText("Starting…")
        self.grabber = FrameGrabber(factory)
        self.grabber.frame_ready.connect(self._on_frame)
        self.grabber.failed.connect(self._on_failed)
        self.grabber.ended.connect(self._on_ended)
        self.grabber.start()
        self.start_button.setText("Stop")
        self._set_capture_enabled(False)
        self.view.setFocus()
        self.running_changed.emit(True)

    def stop(self) -> None:
        grabber, self.grabber = self.grabber, None
        if grabber is None:
            return
        grabber.frame_ready.disconnect(self._on_frame)
        grabber.stop()
        # Never destroy a running QThread (Qt aborts): one stuck in a driver call is kept until it ends.
        self._old_grabbers = [g for g in self._old_grabbers if not g.isFinished()] + [grabber]
        self.start_button.setText("Start")
        self._set_capture_enabled(False)
        self.view.text = "Camera off."
        self.running_changed.emit(False)

    def capture(self) -> None:
        if self.last_frame is None or not self.running:
            return
        frame = self.last_frame.copy()
        self.stop()
        self.view.set_frame(frame)
        self.status.setText("Captured; screening…")
        self.captured.emit(frame)

    def _set_capture_enabled(self, on: bool) -> None:
        self.capture_action.setEnabled(on)
        self.capture_button.setEnabled(on)

    # -- frames ------------------------------------------------------------------------------------

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(1e-6, self._times[-1] - self._times[0])

    def _on_frame(self) -> None:
        if self.grabber is None:
            return
        frame = self.grabber.take()
        if frame is None:
            return
        self.last_frame = frame
        self.view.set_frame(frame)
        self.displayed += 1
        self._times.append(time.perf_counter())
        if self.displayed == 1:
            self._set_capture_enabled(True)
            self.status.setText("Live. Press Space to capture.")
        # One detection in flight at most; none while the engine screens (frames are dropped).
        if self._preview_id is None and self.engine.state == "ready" and not self.engine.busy:
            self._preview_id = self.engine.submit(p.Preview(frame))

    def _on_reply(self, reply: p.Reply) -> None:
        if reply.req_id != self._preview_id:
            return
        self._preview_id = None
        if not self.running:
            return
        if reply.ok:
            self.detections += 1
            self.view.faces = reply.value.faces
            self.view.hint = reply.value.hint
            self.status.setText(
                f"Live. {reply.value.hint or 'Face looks good'} — press Space to capture."
            )
        else:
            self.status.setText(f"Face tracking unavailable: {reply.error}")

    def _on_failed(self, message: str) -> None:
        self.stop()
        text = f"{message[0].upper()}{message[1:]}."
        self.view.text = text if message.lower().startswith("no camera") else f"No camera. {text}"
        self.view.update()
        self.status.setText(message)
        self.failed.emit(message)

    def _on_ended(self) -> None:
        self.stop()
        self.status.setText("The video source ended.")
