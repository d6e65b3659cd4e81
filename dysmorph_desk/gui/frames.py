"""Where live frames come from: a camera, a video file, or frames given in memory.

All behind one small protocol, so tests and demos feed a video file or generated frames and the
camera panel never knows the difference. ``read()`` returns an RGB uint8 frame, or ``None`` when
the source has ended; ``close()`` releases it. No Qt here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dysmorph_desk.errors import DysmorphError

log = logging.getLogger(__name__)
PROBE_SLOTS = 5  # camera indices 0-4 are tried
PROBE_TIMEOUT_S = 3.0  # per camera: a driver that hangs longer counts as no camera
NO_CAMERA = "no camera found; connect a camera and press Refresh, or open a photo instead"


class CameraUnavailable(DysmorphError):
    """No camera at that index, or it could not be opened."""


@runtime_checkable
class FrameSource(Protocol):
    fps: float | None  # pace for sources that do not block on their own (None: as fast as read)

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


_log_lock = threading.Lock()
_quiet_depth = 0
_saved_level: int | None = None


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log while cameras are tried: a missing camera is expected there, and
    OpenCV would print a WARN/ERROR line per backend to the terminal. Restored afterwards."""
    global _quiet_depth, _saved_level
    import cv2

    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:  # an OpenCV build without the logging API: nothing to silence
        yield
        return
    with _log_lock:
        if _quiet_depth == 0:
            _saved_level = logging_api.getLogLevel()
            logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _log_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_level is not None:
                logging_api.setLogLevel(_saved_level)


def _open_capture(index: int) -> Any:
    import cv2

    with quiet_opencv():
        return cv2.VideoCapture(index)


def _is_open(cap: Any) -> bool:
    """``cap.isOpened()``; the capture is released when it did not open."""
    try:
        if cap.isOpened():
            return True
    except Exception:  # a driver error counts as no camera
        log.debug("isOpened failed", exc_info=True)
    _release(cap)
    return False


def _release(cap: Any) -> None:
    try:
        cap.release()
    except Exception:
        log.debug("release failed", exc_info=True)


def probe_cameras(
    indices: Sequence[int] = range(PROBE_SLOTS),
    *,
    timeout: float = PROBE_TIMEOUT_S,
    open_camera: Callable[[int], Any] = _open_capture,
) -> list[int]:
    """The camera indices that open, in order. Blocking: call it off the UI thread.

    Each camera is opened (``open_camera(i)``, by default ``cv2.VideoCapture(i)`` with OpenCV's log
    silenced), checked with ``isOpened()`` and released; no frame is read. An open that takes
    longer than ``timeout`` (a driver that hangs) counts as no camera: it finishes, and is released,
    on its own daemon thread. ``open_camera`` is injectable so tests can pretend cameras exist.
    """
    found = []
    for index in indices:
        result: dict[str, bool] = {}

        def attempt(index: int = index, result: dict[str, bool] = result) -> None:
            try:
                cap = open_camera(index)
            except Exception:  # a driver error: no camera at that index
                log.debug("camera %d could not be opened", index, exc_info=True)
                result["open"] = False
                return
            opened = _is_open(cap)
            if opened:
                _release(cap)
            result["open"] = opened

        thread = threading.Thread(target=attempt, name=f"dd-camera-probe-{index}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            log.info("camera %d did not answer within %.1f s; not listed", index, timeout)
        elif result.get("open"):
            found.append(index)
    log.info("cameras found: %s", ", ".join(str(i + 1) for i in found) or "none")
    return found


class OpenCVSource:
    """A camera through ``cv2.VideoCapture(index)``; ``read`` blocks until the next frame."""

    fps: float | None = None

    def __init__(self, index: int = 0, width: int = 640, height: int = 480) -> None:
        import cv2

        self.index = index
        self._cap = _open_capture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraUnavailable(
                f"no camera found (camera {index + 1} could not be opened); connect a camera, "
                "or open a photo instead"
            )
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def read(self) -> np.ndarray | None:
        return _to_rgb(*self._cap.read())

    def close(self) -> None:
        self._cap.release()


def _to_rgb(ok: bool, frame: np.ndarray | None) -> np.ndarray | None:
    """OpenCV's (ok, BGR frame) -> RGB frame, or None when no frame came."""
    import cv2

    if not ok or frame is None:
        return None
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class VideoFileSource:
    """A video file played at its own frame rate (or ``fps``), optionally looping."""

    def __init__(self, path: str | Path, fps: float | None = None, loop: bool = False) -> None:
        import cv2

        self.path = Path(path)
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraUnavailable("the video file could not be opened")
        native = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps: float | None = (
            fps if fps is not None else (native if native and native > 0 else 30.0)
        )
        self.loop = loop

    def read(self) -> np.ndarray | None:
        import cv2

        ok, frame = self._cap.read()
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        return _to_rgb(ok, frame)

    def close(self) -> None:
        self._cap.release()


class GeneratedSource:
    """Frames from memory (a list or any iterable of RGB arrays), paced at ``fps``."""

    def __init__(
        self, frames: Iterable[np.ndarray], fps: float | None = 30.0, loop: bool = False
    ) -> None:
        self._frames: list[np.ndarray] | None = list(frames) if loop else None
        self._iter: Iterator[np.ndarray] = iter(
            self._frames if self._frames is not None else frames
        )
        self.fps = fps
        self.loop = loop
        self.closed = False

    def read(self) -> np.ndarray | None:
        if self.closed:
            return None
        try:
            return next(self._iter)
        except StopIteration:
            if self.loop and self._frames:
                self._iter = iter(self._frames)
                return next(self._iter)
            return None

    def close(self) -> None:
        self.closed = True


class Pacer:
    """Sleeps so that successive frames are ``1/fps`` apart (no-op for ``fps=None``)."""

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._next = time.perf_counter()

    def wait(self) -> None:
        if not self.period:
            return
        self._next += self.period
        delay = self._next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.perf_counter()  # fell behind: don't try to catch up with a burst
