"""Webcam: fake frame sources through the real camera panel; no camera gives a message."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
from PySide6.QtCore import Qt

from dysmorph_desk.gui.frames import (
    CameraUnavailable,
    FrameSource,
    GeneratedSource,
    OpenCVSource,
    VideoFileSource,
    probe_cameras,
)
from tests.gui.conftest import webcam_frame

TIMEOUT = 30_000


def test_webcam_from_a_fake_source_capture_gives_results(qtbot, window, portraits):
    frames = [webcam_frame(portraits, shift) for shift in range(0, 40, 4)]
    panel = window.camera_panel
    window.tabs.setCurrentWidget(panel)
    panel.start_source(lambda: GeneratedSource(frames, fps=30, loop=True))
    qtbot.waitUntil(lambda: panel.detections >= 2, timeout=TIMEOUT)
    assert panel.view.faces and panel.displayed >= 2 and panel.capture_action.isEnabled()
    assert panel.view.hint == "" or "—" in panel.view.hint
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        qtbot.keyClick(panel.view, Qt.Key.Key_Space)  # Capture
    assert not panel.running
    assert window.result.faces_detected == 1 and window.result.photo.shape == (480, 640, 3)
    assert window.results_view.model_widgets


def test_no_camera_gives_a_message_not_a_crash(qtbot, window):
    panel = window.camera_panel
    panel.start_source(lambda: OpenCVSource(63))  # no such camera here (nor on any sane machine)
    qtbot.waitUntil(lambda: bool(window.dialogs.infos), timeout=TIMEOUT)
    title, message = window.dialogs.infos[0]
    assert title == "Camera" and "no camera found" in message.lower()
    assert not panel.running and "No camera" in panel.view.text


def test_preview_hint_says_what_is_wrong(qtbot, window, portraits):
    from dysmorph_desk.engine.worker import preview_hint

    frame = webcam_frame(portraits)
    faces = window.engine.core.detector.detect(frame)
    assert preview_hint(frame, faces[0]) == ""
    dark = (frame * 0.1).astype(np.uint8)
    assert "too dark" in preview_hint(dark, faces[0])
    blurred = cv2.GaussianBlur(frame, (0, 0), 8)
    assert "blurred" in preview_hint(blurred, faces[0])
    small = cv2.resize(frame, (96, 72))
    small_faces = window.engine.core.detector.detect(cv2.resize(small, (640, 480)))
    assert preview_hint(small, faces[0]) != "" or small_faces
    assert preview_hint(frame, None) == "no face in view"


def test_frame_sources(tmp_path, portraits):
    frames = [webcam_frame(portraits, s) for s in (0, 8, 16)]
    src = GeneratedSource(frames, fps=None)
    assert isinstance(src, FrameSource)
    assert [src.read() is f for f in frames] == [True] * 3 and src.read() is None
    looped = GeneratedSource(frames[:1], fps=None, loop=True)
    assert looped.read() is not None and looped.read() is not None
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    video = VideoFileSource(path)
    assert video.fps == 25
    first = video.read()
    assert (
        first.shape == (480, 640, 3)
        and abs(int(first[240, 320, 0]) - int(frames[0][240, 320, 0])) < 40
    )
    rest = 0
    while video.read() is not None:
        rest += 1
    assert rest == 2
    video.close()
    try:
        VideoFileSource(tmp_path / "missing.avi")
    except CameraUnavailable as exc:
        assert "could not be opened" in str(exc)
    else:
        raise AssertionError("a missing video must raise CameraUnavailable")


class FakeCapture:
    def __init__(self, opened: bool) -> None:
        self.opened, self.released = opened, False

    def isOpened(self) -> bool:
        return self.opened

    def release(self) -> None:
        self.released = True


def test_probe_lists_only_the_cameras_that_open_and_releases_them():
    caps = {}

    def open_camera(index):
        if index == 3:
            raise RuntimeError("driver error")
        caps[index] = FakeCapture(index in (0, 2))
        return caps[index]

    assert probe_cameras(range(5), open_camera=open_camera) == [0, 2]
    assert sorted(caps) == [0, 1, 2, 4] and all(c.released for c in caps.values())


def test_probe_does_not_wait_for_a_camera_that_hangs():
    gate = threading.Event()

    def open_camera(index):
        if index == 1:
            gate.wait(10)  # a driver that does not answer
        return FakeCapture(True)

    t0 = time.perf_counter()
    try:
        assert probe_cameras(range(3), timeout=0.2, open_camera=open_camera) == [0, 2]
    finally:
        gate.set()
    assert time.perf_counter() - t0 < 3


def test_real_probe_prints_no_opencv_warnings(capfd):
    probe_cameras([60, 61], timeout=5)  # no such cameras (here nor on any sane machine)
    captured = capfd.readouterr()
    assert "WARN" not in captured.err and "ERROR" not in captured.err


def _wait_probed(qtbot, panel):
    qtbot.waitUntil(lambda: panel.cameras is not None and not panel.probing, timeout=TIMEOUT)


def test_picker_lists_exactly_the_cameras_found_and_refreshes(qtbot, window):
    panel = window.camera_panel
    threads = []

    def probe():
        threads.append(threading.current_thread())
        return [0, 2]

    panel.probe = probe
    window.tabs.setCurrentWidget(panel)  # first shown: the probe runs
    _wait_probed(qtbot, panel)
    assert panel.camera_choices() == ["Camera 1", "Camera 3", "Video file…"]
    assert [panel.camera_box.itemData(i) for i in range(panel.camera_box.count())] == [0, 2, "file"]
    assert panel.camera_box.currentData() == 0 and "2 cameras found" in panel.status.text()
    assert threads and threads[0] is not threading.main_thread()  # never on the UI thread
    panel.probe = lambda: [1]
    qtbot.mouseClick(panel.refresh_button, Qt.MouseButton.LeftButton)
    _wait_probed(qtbot, panel)
    assert panel.camera_choices() == ["Camera 2", "Video file…"]
    window.tabs.setCurrentIndex(0)
    window.tabs.setCurrentWidget(panel)  # showing the tab again does not probe again
    assert not panel.probing and len(threads) == 1


def test_picker_with_no_camera_says_so_and_start_gives_the_message(qtbot, window):
    panel = window.camera_panel
    window.tabs.setCurrentWidget(panel)
    _wait_probed(qtbot, panel)  # the fixture's probe finds none
    assert panel.camera_choices() == ["No camera found", "Video file…"]
    assert "no camera found" in panel.status.text().lower() and "Refresh" in panel.status.text()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert window.dialogs.infos and "no camera found" in window.dialogs.infos[-1][1].lower()
    assert not panel.running and "No camera" in panel.view.text


def test_start_while_probing_waits_for_the_answer(qtbot, window):
    panel = window.camera_panel
    gate = threading.Event()
    panel.probe = lambda: gate.wait(10) and []
    window.tabs.setCurrentWidget(panel)
    assert panel.probing and panel.camera_choices()[0] == "Looking for cameras…"
    assert not panel.refresh_button.isEnabled()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # the UI is not blocked
    qtbot.wait(50)
    assert not window.dialogs.infos
    gate.set()
    qtbot.waitUntil(lambda: bool(window.dialogs.infos), timeout=TIMEOUT)
    assert "no camera found" in window.dialogs.infos[-1][1].lower() and not panel.running


def test_probe_failure_is_a_message_not_a_crash(qtbot, window):
    panel = window.camera_panel

    def broken():
        raise OSError("driver exploded")

    panel.probe = broken
    window.tabs.setCurrentWidget(panel)
    _wait_probed(qtbot, panel)
    assert (
        "looking for cameras failed" in panel.status.text()
        and "Video file…" in panel.camera_choices()
    )
