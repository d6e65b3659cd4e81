"""Webcam: fake frame sources through the real camera panel; no camera gives a message."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt

from dysmorph_desk.gui.frames import (
    CameraUnavailable,
    FrameSource,
    GeneratedSource,
    OpenCVSource,
    VideoFileSource,
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
    from dysmorph_desk.gui.worker import preview_hint

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
    assert first.shape == (480, 640, 3) and abs(int(first[240, 320, 0]) - int(frames[0][240, 320, 0])) < 40
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
