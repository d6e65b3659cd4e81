"""Starting the desktop app: the engine worker is spawned first (it imports torch while Qt builds
the window), the window shows, and a photo given on the command line is screened at once."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from pathlib import Path

log = logging.getLogger(__name__)


class _Timings:
    """``--timings``: one JSON line per milestone on stderr, in wall-clock seconds (benchmarks)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def mark(self, event: str, **extra) -> None:
        if self.enabled:
            print(
                json.dumps({"event": event, "t": time.time(), **extra}), file=sys.stderr, flush=True
            )


def _install_excepthook(window_getter) -> None:
    """Unexpected errors in slots: logged with the traceback, shown as one line with details."""

    def hook(exc_type, exc, tb) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error in the app\n%s", details)
        window = window_getter()
        if window is not None:
            try:
                window.dialogs.error(
                    window, "Unexpected error", f"{exc_type.__name__}: {exc}", details
                )
            except Exception:  # never recurse from the hook
                log.exception("the error dialog failed")

    sys.excepthook = hook


def run_app(
    photo: Path | None = None,
    models: list[str] | None = None,
    device: str | None = None,
    *,
    exit_after_results: bool = False,
    timings: bool = False,
) -> int:
    marks = _Timings(timings)
    marks.mark("main")
    from dysmorph_desk.engine.spawn import spawn_worker

    handle = spawn_worker()  # first: the worker imports torch while Qt starts and builds the window
    marks.mark("engine_spawned")
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from dysmorph_desk.gui.engine import EngineClient
    from dysmorph_desk.gui.qtutil import StallMonitor
    from dysmorph_desk.settings import Settings

    settings = Settings.load()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("DysmorphDesk")
    app.setOrganizationName("DysmorphDesk")
    engine = EngineClient()
    engine.start(handle)

    from dysmorph_desk.gui.main_window import MainWindow

    window = MainWindow(engine, settings, models=models, device=device)
    window.discard_on_close = exit_after_results  # a benchmark run quits without asking
    window.configure_engine()
    _install_excepthook(lambda: window)
    monitor = StallMonitor()

    class FirstPaint(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Type.Paint and obj is window:
                window.removeEventFilter(self)
                marks.mark("window_painted")
                monitor.start()
            return False

    painted = FirstPaint(window)
    window.installEventFilter(painted)
    window.show()
    marks.mark("window_shown")
    if photo is not None:
        QTimer.singleShot(0, lambda: window.open_path(photo))

    def on_result(result) -> None:
        marks.mark("results_shown", stall_ms=round(monitor.worst_ms, 1))
        if exit_after_results:
            QTimer.singleShot(0, window.close)

    window.result_shown.connect(on_result)

    def on_failed(msg: str) -> None:
        marks.mark("failed", error=msg)
        window.close()

    if exit_after_results:
        window.screen_failed.connect(on_failed)
    terminated = _quit_on_sigterm(app, window)
    code = app.exec()
    if terminated:
        code = 130  # the exit table: interrupted (Ctrl+C or SIGTERM)
    marks.mark("exit", stall_ms=round(monitor.worst_ms, 1))
    return code


def _quit_on_sigterm(app, window) -> list[bool]:
    """SIGTERM (a logout, ``kill``) closes the window like the user would, instead of raising
    inside a Qt slot: with an unsaved case the window asks first (nothing a clinician entered is
    lost silently), and if the user keeps the window the app goes on as if nothing happened.
    Python runs signal handlers only between bytecodes, so a 250 ms timer gives it the chance
    while Qt waits for events. Returns a list that holds True once SIGTERM ended the app."""
    import signal

    from PySide6.QtCore import QTimer

    arrived: list[bool] = []

    def on_term(signum, frame) -> None:
        log.warning("SIGTERM: closing the app")
        if window.close():  # False: the user chose to keep an unsaved case open
            arrived.append(True)
            app.quit()
        else:
            log.warning("SIGTERM: the user kept the window open (unsaved case)")

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (tests): leave the handler as it is
        return arrived
    tick = QTimer(app)
    tick.timeout.connect(lambda: None)
    tick.start(250)
    return arrived
