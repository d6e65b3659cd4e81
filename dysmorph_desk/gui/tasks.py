"""Work off the UI thread: a pure function runs on the global ``QThreadPool`` and its value (or
its exception) comes back to the UI thread as a queued signal (Orange3's ``concurrent.py``
pattern). The function never touches a widget; the callbacks run on the UI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)

log = logging.getLogger(__name__)
_RUNNING: set[Task] = set()  # a running task (and its signals) must outlive the caller's frame


class _Relay(QObject):
    """Lives on the UI thread: its slots, hence the callbacks, run there (queued connections)."""

    done = Signal(object)
    failed = Signal(object)  # the exception

    def __init__(self, task: Task, on_done, on_error) -> None:
        super().__init__()
        self._task, self._on_done, self._on_error = task, on_done, on_error
        self.done.connect(self._done)
        self.failed.connect(self._failed)

    @Slot(object)
    def _done(self, value: Any) -> None:
        _RUNNING.discard(self._task)
        self._on_done(value)

    @Slot(object)
    def _failed(self, exc: Any) -> None:
        _RUNNING.discard(self._task)
        self._on_error(exc)


class Task(QRunnable):
    """``fn()`` on a pool thread; ``on_done(value)`` or ``on_error(exc)`` on the UI thread."""

    def __init__(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps it until the callback has run
        self._fn = fn
        self.signals = _Relay(self, on_done, on_error)

    def run(self) -> None:
        try:
            value = self._fn()
        except Exception as exc:
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(value)


def run_task(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> Task:
    """Start ``fn`` on the global thread pool; see :class:`Task`."""
    task = Task(fn, on_done, on_error)
    _RUNNING.add(task)
    QThreadPool.globalInstance().start(task)
    return task


def busy() -> bool:
    """Whether a task is still running (the window waits for it before quitting)."""
    return bool(_RUNNING)


def wait_all(msecs: int = 10_000) -> bool:
    """Wait for the running tasks (on quit: an export is never cut off mid-write)."""
    return QThreadPool.globalInstance().waitForDone(msecs)
