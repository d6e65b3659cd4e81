"""The engine worker: runs in its own process (multiprocessing 'spawn'), runs ONNX Runtime, holds the
loaded bundles and the face detector, and answers ``protocol`` requests one at a time.

No Qt here. ``WorkerCore`` is the request handler; ``worker_main`` is the process entry point
(a reader thread takes requests off the pipe so cancels and fresh preview frames arrive while a
screening runs). The in-process test engine reuses ``WorkerCore`` directly.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dysmorph_desk.engine import differential as dd
from dysmorph_desk.engine import protocol as p
from dysmorph_desk.engine.spawn import worker_threads
from dysmorph_desk.errors import DysmorphError, Interrupted, UsageError
from dysmorph_desk.faces.types import FaceInfo
from dysmorph_desk.screening.results import ScreeningResult

if TYPE_CHECKING:
    from dysmorph_desk.engine.differential import GalleryCache
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.screening.pipeline import Screener

log = logging.getLogger(__name__)
Emit = Callable[[Any], None]


def _scaled_face(face: FaceInfo, factor: float) -> FaceInfo:
    x0, y0, x1, y1 = (float(v) * factor for v in face.box)
    return FaceInfo(
        box=(x0, y0, x1, y1),
        landmarks=face.landmarks * factor,
        score=face.score,
    )


# Failed quality check -> what to tell the person holding the camera, in the order shown.
PREVIEW_HINTS = {
    "face_size": "face too small — move closer",
    "brightness_low": "too dark — add light",
    "brightness_high": "too bright",
    "blur": "blurred — hold still",
    "yaw": "head turned — face the camera",
    "pitch": "head turned — face the camera",
}


def preview_hint(frame: np.ndarray, face: FaceInfo | None) -> str:
    """A short hint for the live preview: what would make this frame a usable photo.

    It applies the face pipeline's own checks (``faces.pipeline``), so the preview calls a face
    usable exactly when screening would.
    """
    from dysmorph_desk.errors import FaceRefused
    from dysmorph_desk.faces.pipeline import detect_and_align

    if face is None:
        return "no face in view"
    try:
        finding = detect_and_align(frame, faces=[face])
    except FaceRefused:
        return PREVIEW_HINTS["face_size"]
    failed = {q.name for q in finding.quality if not q.passed}
    return "; ".join(dict.fromkeys(hint for name, hint in PREVIEW_HINTS.items() if name in failed))


class WorkerCore:
    """Handles one request at a time. Holds the screener, the detector and the last photo."""

    def __init__(self) -> None:
        self.screener: Screener | None = None
        self.detector: FaceDetector | None = None
        self.device = "cpu"
        self._last: tuple[int, ScreeningResult] | None = None  # (result id, result) for export
        self.warmed = False
        self._photo: tuple[str, Any, list[FaceInfo] | None] | None = None  # key, LoadedImage, faces
        self._gallery: GalleryCache | None = None  # the Differential panel's gallery, on first use

    # -- dispatch --------------------------------------------------------------------------------

    def handle(
        self, req_id: int, body: Any, emit: Emit, should_cancel: Callable[[], bool]
    ) -> p.Reply:
        try:
            if should_cancel():
                raise Interrupted("cancelled")
            handler = getattr(self, f"_do_{type(body).__name__.lower()}", None)
            if handler is None:
                raise UsageError(f"unknown request {type(body).__name__}")
            return p.Reply(req_id, True, handler(req_id, body, emit, should_cancel))
        except DysmorphError as exc:
            return p.Reply(req_id, False, error=str(exc), error_type=type(exc).__name__)
        except (ValueError, OSError) as exc:  # bad settings, unreadable paths: still a one-liner
            log.info("request %s failed: %s", type(body).__name__, exc, exc_info=True)
            return p.Reply(
                req_id,
                False,
                error=f"{exc}",
                error_type=type(exc).__name__,
                details=traceback.format_exc(),
            )
        except Exception as exc:  # a bug: the GUI logs the details and offers to copy them
            log.exception("unexpected error in %s", type(body).__name__)
            return p.Reply(
                req_id,
                False,
                error=f"internal error: {type(exc).__name__}: {exc}",
                error_type=type(exc).__name__,
                details=traceback.format_exc(),
                user_error=False,
            )

    # -- requests --------------------------------------------------------------------------------

    def _do_configure(self, req_id: int, req: p.Configure, emit: Emit, cancel) -> p.Configured:
        from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
        from dysmorph_desk.faces.detect import FaceDetector
        from dysmorph_desk.screening.pipeline import Screener
        from dysmorph_desk.utils.devices import pick_device

        t0 = time.perf_counter()
        emit(p.Progress(req_id, "loading models", 0.0))
        errors: list[str] = []
        try:
            device = pick_device(req.device)
        except DysmorphError as exc:
            errors.append(f"{exc}; using the CPU")
            device = "cpu"
        bundles = []
        for i, name in enumerate(dict.fromkeys(req.models)):
            emit(p.Progress(req_id, f"loading {Path(name).name}", i / max(1, len(req.models))))
            try:
                info = resolve_bundle(name)
                threads = req.threads or None
                bundles.append(load_bundle(info.path, device, info.source, threads=threads))
            except DysmorphError as exc:
                errors.append(str(exc))
        if not req.models:
            errors.append("no model selected (choose models in the model manager)")
        self.device = device
        self.detector = FaceDetector(device=device)
        self.screener = Screener(bundles, self.detector) if bundles else None
        self.warmed = False
        log.info(
            "configured %d bundle(s) on %s in %.2f s",
            len(bundles),
            device,
            time.perf_counter() - t0,
        )
        return p.Configured(
            device,
            [
                p.BundleSummary(b.name, str(b.info.path), b.info.source, b.card.status)
                for b in bundles
            ],
            errors,
        )

    def _load(self, req: p.Screen):
        from dysmorph_desk.faces.image import from_array, load_image

        if isinstance(req.source, np.ndarray):
            return from_array(req.source)
        return load_image(
            req.source,
            max_pixels=req.options.max_pixels,
            working_long_side=req.options.working_long_side,
        )

    def _do_screen(self, req_id: int, req: p.Screen, emit: Emit, cancel) -> p.Screened:
        if self.detector is None:
            raise UsageError("the engine is not configured yet")
        opt = req.options
        manual = opt.manual_landmarks is not None
        cached = self._photo if self._photo and self._photo[0] == req.photo_key else None
        if cached is None:
            emit(p.Progress(req_id, "loading photo", 0.0))
            image, faces = self._load(req), None
        else:
            image, faces = cached[1], cached[2]
        if not manual and faces is None:
            emit(p.Progress(req_id, "detecting faces", 0.1))
            faces = self.detector.detect(image.rgb)
        self._photo = (req.photo_key, image, faces)
        if cached is None:
            emit(p.PhotoReady(req_id, image.rgb, image.scale, list(faces or [])))
        if self.screener is None:
            raise UsageError("no model is loaded; choose models in the model manager")
        result = self.screener.screen(
            image,
            req.case,
            opt,
            faces=None if manual else faces,
            progress=lambda stage, frac: emit(p.Progress(req_id, stage, frac)),
            should_cancel=cancel,
        )
        log.info("screened in %.0f ms", 1000 * sum(r.seconds for r in result.results))
        self._last = (req_id, result)
        return p.Screened(result, req_id, [] if manual else list(faces or []))

    def _do_preview(self, req_id: int, req: p.Preview, emit: Emit, cancel) -> p.PreviewInfo:
        import cv2

        if self.detector is None:
            raise UsageError("the engine is not configured yet")
        t0 = time.perf_counter()
        frame = req.frame
        h, w = frame.shape[:2]
        factor = min(1.0, req.detect_long_side / max(h, w))
        small = (
            frame
            if factor >= 1.0
            else cv2.resize(
                frame, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA
            )
        )
        faces = [_scaled_face(f, 1.0 / factor) for f in self.detector.detect(small)]
        hint = preview_hint(frame, faces[0] if faces else None)
        return p.PreviewInfo(faces, hint, time.perf_counter() - t0)

    def _do_installbundle(
        self, req_id: int, req: p.InstallBundle, emit: Emit, cancel
    ) -> p.BundleSummary:
        from dysmorph_desk.bundles.format import install_bundle

        info = install_bundle(req.path, force=req.force)
        return p.BundleSummary(info.name, str(info.path), info.source, info.card.status)

    def _do_exportreport(self, req_id: int, req: p.ExportReport, emit: Emit, cancel) -> str:
        """Render the held result for the case on screen; refuse anything that could mix cases."""
        from dataclasses import replace

        from dysmorph_desk.report.render import render_report

        if self._last is None or self._last[0] != req.result_id:
            raise UsageError("that result is no longer held by the engine; screen the photo again")
        result = self._last[1]
        if req.case.age_months != result.case.age_months:
            raise UsageError("the age changed since screening; screen the photo again, then export")
        options = req.options.validated()
        return str(
            render_report(replace(result, case=req.case), req.path, settings=options, force=True)
        )

    # -- the Differential panel (engine/differential.py) ------------------------------------------

    def _galleries(self) -> GalleryCache:
        if self._gallery is None:
            self._gallery = dd.GalleryCache()
        return self._gallery

    def _do_hposearch(self, req_id: int, req: p.HpoSearch, emit: Emit, cancel) -> p.HpoHits:
        return dd.search_hits(req)

    def _do_galleryinfo(
        self, req_id: int, req: p.GalleryInfo, emit: Emit, cancel
    ) -> p.GallerySummary:
        return self._galleries().get(req.path)[1]

    def _do_differential(
        self, req_id: int, req: p.Differential, emit: Emit, cancel
    ) -> p.DifferentialReady:
        return dd.rank(req, self._galleries())

    def _do_crash(self, req_id: int, req: p.Crash, emit: Emit, cancel) -> None:
        log.warning("crash requested (%s)", req.how)
        if req.how == "segfault":
            import ctypes

            ctypes.string_at(0)
        os._exit(3)

    # -- idle work -------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Pay the one-off costs (first detection, first backward pass) while the user is idle."""
        self.warmed = True
        if self.screener is None or self.detector is None:
            return
        from dysmorph_desk.faces.image import from_array
        from dysmorph_desk.screening.options import ScreenOptions

        t0 = time.perf_counter()
        rng = np.random.default_rng(0)
        img = from_array(rng.integers(60, 200, (256, 256, 3), dtype=np.uint8))
        marks = np.array(
            [[96, 110], [160, 110], [128, 145], [102, 180], [154, 180]], dtype=np.float64
        )
        try:
            self.detector.detect(img.rgb)
            self.screener.screen(
                img, options=ScreenOptions(force_assess=True, manual_landmarks=marks)
            )
        except Exception:  # warm-up is an optimisation only
            log.warning("warm-up failed", exc_info=True)
        log.info("warm-up took %.2f s", time.perf_counter() - t0)


# --- the process ---------------------------------------------------------------------------------


class _Inbox:
    """Requests in arrival order; of preview frames only the newest is kept (older are dropped)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[p.Envelope] = deque()
        self._preview: p.Envelope | None = None
        self._cancelled: set[int] = set()

    def put(self, env: p.Envelope) -> None:
        with self._cond:
            if isinstance(env.body, p.Cancel):
                self._cancelled.add(env.body.req_id)
            elif isinstance(env.body, p.Preview):
                self._preview = env
            else:
                self._queue.append(env)
            self._cond.notify()

    def next(self, timeout: float | None) -> p.Envelope | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._queue or self._preview, timeout):
                return None
            if self._queue:
                return self._queue.popleft()
            env, self._preview = self._preview, None
            return env

    def is_cancelled(self, req_id: int) -> bool:
        with self._cond:
            return req_id in self._cancelled


def _setup_worker_logging() -> None:
    from dysmorph_desk.utils import paths

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    try:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            folder / "dysmorph-desk-worker.log", maxBytes=2_000_000, backupCount=2, encoding="utf-8"
        )
        fh.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [worker]: %(message)s")
        )
        root.addHandler(fh)
    except OSError:
        pass
    for noisy in ("PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _prefetch() -> None:
    """Import what every request needs while the GUI is still building its window."""
    t0 = time.perf_counter()
    import onnxruntime  # noqa: F401

    from dysmorph_desk.faces import detect  # noqa: F401
    from dysmorph_desk.screening import pipeline  # noqa: F401

    log.info("runtime imported in %.2f s", time.perf_counter() - t0)


def worker_main(incoming, responses) -> None:
    """Entry point of the worker process: ``incoming``/``responses`` are multiprocessing Connections."""
    threads = str(worker_threads())
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if not os.environ.get(var, "").strip():  # unset or empty (libgomp rejects an empty value)
            os.environ[var] = threads
    _setup_worker_logging()
    send_lock = threading.Lock()

    def send(msg: Any) -> None:
        with send_lock:
            responses.send(msg)

    inbox = _Inbox()

    def read_loop() -> None:
        while True:
            try:
                env = incoming.recv()
            except (EOFError, OSError):  # the GUI went away: stop
                inbox.put(p.Envelope(-1, p.Shutdown()))
                return
            inbox.put(env)

    send(p.Hello(os.getpid()))
    threading.Thread(target=read_loop, name="dd-worker-reader", daemon=True).start()
    _prefetch()
    core = WorkerCore()
    while True:
        idle_work = core.screener is not None and not core.warmed
        env = inbox.next(timeout=0.05 if idle_work else None)
        if env is None:
            core.warm_up()
            continue
        if isinstance(env.body, p.Shutdown):
            break
        rid = env.req_id
        reply = core.handle(rid, env.body, send, functools.partial(inbox.is_cancelled, rid))
        try:
            send(reply)
        except (BrokenPipeError, OSError):
            break
        except Exception as exc:  # e.g. an unpicklable value: still answer
            log.exception("could not send the reply")
            send(
                p.Reply(
                    env.req_id,
                    False,
                    error=f"internal error: {exc}",
                    details=traceback.format_exc(),
                    user_error=False,
                )
            )
    log.info("worker stopping")
