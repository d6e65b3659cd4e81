"""The GUI's side of the engine: a worker process (``EngineClient``) or, for tests, the same
request handler run in-process (``InProcessEngine``). Both have one interface:

``submit(request) -> id``, ``cancel(id)``, ``configure(Configure)``, ``shutdown()``, and the
signals ``replied(Reply)``, ``progressed(Progress)``, ``photo_ready(PhotoReady)``,
``state_changed(str)`` and ``died(str)``.

The UI thread never blocks on the worker: requests are pickled and written by a writer thread,
responses are read by a ``QThread`` and delivered to the UI thread as queued signals. A worker
that dies (a crash in native code, killed for memory) is noticed through EOF on its pipe or by a
watchdog timer, every request in flight is answered with an error, and a fresh worker is started.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.engine import protocol as p
from dysmorph_desk.engine.spawn import WorkerHandle, spawn_worker

log = logging.getLogger(__name__)
MAX_RESTARTS = 3  # within RESTART_WINDOW_S; after that the user is told and nothing restarts
RESTART_WINDOW_S = 60.0
# Requests that never show the window as busy: live preview frames and search-as-you-type.
QUIET_REQUESTS: tuple[type, ...] = (p.Preview, p.HpoSearch)


class EngineBase(QObject):
    replied = Signal(object)  # protocol.Reply
    progressed = Signal(object)  # protocol.Progress
    photo_ready = Signal(object)  # protocol.PhotoReady
    state_changed = Signal(str)  # "starting", "ready", "busy", "dead", "stopped"
    died = Signal(str)  # one-line message; the engine is restarting (or gave up)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next_id = 1
        self._pending: dict[int, type] = {}
        self._config: p.Configure | None = None
        self._configured: p.Configured | None = None
        self._state = "starting"

    # -- public ------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def configured(self) -> p.Configured | None:
        return self._configured

    @property
    def busy(self) -> bool:
        return any(kind not in QUIET_REQUESTS for kind in self._pending.values())

    def is_pending(self, req_id: int) -> bool:
        return req_id in self._pending

    def has_pending(self, kind: type) -> bool:
        return any(k is kind for k in self._pending.values())

    def submit(self, body: Any) -> int:
        req_id = self._next_id
        self._next_id += 1
        self._pending[req_id] = type(body)
        self._send(p.Envelope(req_id, body))
        self._update_state()
        return req_id

    def configure(self, config: p.Configure) -> int:
        self._config = config
        self._configured = None
        self._set_state("starting")
        return self.submit(config)

    def cancel(self, req_id: int) -> None:
        if req_id in self._pending:
            self._send(p.Envelope(0, p.Cancel(req_id)))

    def start(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError

    # -- internals ---------------------------------------------------------------------------------

    def _send(self, env: p.Envelope) -> None:
        raise NotImplementedError

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def _update_state(self) -> None:
        if self._state in ("dead", "stopped"):
            return
        if self._configured is None and self._config is not None:
            self._set_state("starting")
        else:
            self._set_state("busy" if self.busy else "ready")

    def _dispatch(self, msg: Any) -> None:
        if isinstance(msg, p.Reply):
            kind = self._pending.pop(msg.req_id, None)
            if kind is p.Configure and msg.ok:
                self._configured = msg.value
            elif kind is p.Configure:
                self._configured = p.Configured("cpu", [], [msg.error])
            self._update_state()
            self.replied.emit(msg)
        elif isinstance(msg, p.Progress):
            self.progressed.emit(msg)
        elif isinstance(msg, p.PhotoReady):
            self.photo_ready.emit(msg)
        elif isinstance(msg, p.Hello):
            log.info("engine worker %d started", msg.pid)

    def _fail_pending(self, message: str) -> None:
        for req_id in list(self._pending):
            self._dispatch(p.Reply(req_id, False, error=message, error_type="EngineDied"))


class _Reader(QThread):
    """Blocks on the response pipe off the UI thread; delivers messages as queued signals."""

    message = Signal(int, object)
    closed = Signal(int)

    def __init__(self, conn, generation: int) -> None:
        super().__init__()
        self._conn = conn
        self._gen = generation

    def run(self) -> None:
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                self.closed.emit(self._gen)
                return
            except Exception:  # an unpicklable message: log, keep reading
                log.exception("bad message from the engine")
                continue
            self.message.emit(self._gen, msg)


class _Writer(threading.Thread):
    """Pickles and writes requests, so a full pipe never blocks the UI thread."""

    def __init__(self, conn) -> None:
        super().__init__(name="dd-engine-writer", daemon=True)
        self._conn = conn
        self.queue: queue.Queue = queue.Queue()

    def run(self) -> None:
        while (env := self.queue.get()) is not None:
            try:
                self._conn.send(env)
            except (BrokenPipeError, EOFError, OSError):
                return  # the reader notices the dead worker
            except Exception:
                log.exception("could not send a request to the engine")


class EngineClient(EngineBase):
    """The engine in a worker process started with the 'spawn' context."""

    def __init__(self, parent: QObject | None = None, *, restart: bool = True) -> None:
        super().__init__(parent)
        self._restart = restart
        self._proc = None  # multiprocessing Process
        self._reader: _Reader | None = None
        self._writer: _Writer | None = None
        self._gen = 0
        self._old_readers: list[_Reader] = []
        self._stopping = False
        self._deaths: deque[float] = deque(maxlen=MAX_RESTARTS)
        self._watchdog = QTimer(self)
        self._watchdog.setInterval(500)
        self._watchdog.timeout.connect(self._check_alive)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, handle: WorkerHandle | None = None) -> None:
        """Start a worker (or adopt one spawned earlier with ``spawn_worker``)."""
        t0 = time.perf_counter()
        handle = handle or spawn_worker()
        self._gen += 1
        self._stopping = False
        self._proc = handle.process
        self._writer = _Writer(handle.requests)
        self._writer.start()
        self._reader = _Reader(handle.responses, self._gen)
        self._reader.message.connect(self._on_message)
        self._reader.closed.connect(self._on_closed)
        self._reader.start()
        self._watchdog.start()
        log.info("engine worker started in %.0f ms", 1000 * (time.perf_counter() - t0))
        if self._config is not None:
            self.configure(self._config)
        else:
            self._set_state("ready")

    def _send(self, env: p.Envelope) -> None:
        if self._writer is not None:
            self._writer.queue.put(env)

    def _on_message(self, gen: int, msg: Any) -> None:
        if gen == self._gen:
            self._dispatch(msg)

    def _on_closed(self, gen: int) -> None:
        if gen == self._gen:
            self._worker_died()

    def _check_alive(self) -> None:
        if self._proc is not None and not self._proc.is_alive() and not self._stopping:
            self._worker_died()

    def _worker_died(self) -> None:
        if self._stopping or self._proc is None:
            return
        self._watchdog.stop()
        code = self._proc.exitcode
        self._gen += 1  # ignore anything the old reader still delivers
        self._teardown(kill=True)
        now = time.monotonic()
        self._deaths.append(now)
        give_up = not self._restart or (
            len(self._deaths) == MAX_RESTARTS and now - self._deaths[0] < RESTART_WINDOW_S
        )
        how = f"exit code {code}" if code is not None else "no exit code"
        message = f"The screening engine stopped unexpectedly ({how})."
        log.error("engine worker died (%s)", how)
        self._set_state("dead")
        self._fail_pending("the screening engine stopped unexpectedly; please try again")
        if give_up:
            self.died.emit(message + " It was not restarted; please restart DysmorphDesk.")
            return
        self.died.emit(message + " It has been restarted; please repeat the last step.")
        self._state = "starting"
        self.start()

    def _teardown(self, kill: bool) -> None:
        if self._writer is not None:
            self._writer.queue.put(None)
            self._writer = None
        proc, self._proc = self._proc, None
        if proc is not None and kill and proc.is_alive():
            proc.kill()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.message.disconnect(self._on_message)
            reader.closed.disconnect(self._on_closed)
            # A QThread must never be destroyed while it runs (Qt aborts the process): keep a
            # reference until it has ended on EOF; finished ones are dropped here or on shutdown.
            self._old_readers = [r for r in self._old_readers if not r.isFinished()] + [reader]

    def shutdown(self, timeout: float = 0.5) -> None:
        """Ask the worker to stop; kill it if it does not within ``timeout`` (called on quit)."""
        self._stopping = True
        self._watchdog.stop()
        proc = self._proc
        if self._writer is not None:
            self._writer.queue.put(p.Envelope(0, p.Shutdown()))
        self._teardown(kill=False)
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        for reader in self._old_readers:
            reader.wait(2000)
        self._old_readers = [r for r in self._old_readers if not r.isFinished()]
        self._pending.clear()
        self._set_state("stopped")


class InProcessEngine(EngineBase):
    """The same handler run synchronously on the UI thread (tests, demos): deterministic, no
    process start-up. Requests are handled from the event loop, one after the other."""

    def __init__(self, core=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from dysmorph_desk.engine.worker import WorkerCore

        self.core = core or WorkerCore()
        self._queue: deque[p.Envelope] = deque()
        self._cancelled: set[int] = set()
        self._scheduled = False

    def start(self) -> None:
        if self._config is None:
            self._set_state("ready")

    def _send(self, env: p.Envelope) -> None:
        if isinstance(env.body, p.Cancel):
            self._cancelled.add(env.body.req_id)
            return
        self._queue.append(env)
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._drain)

    def _drain(self) -> None:
        self._scheduled = False
        while self._queue:
            env = self._queue.popleft()
            if isinstance(env.body, p.Shutdown):
                continue

            def cancelled(rid: int = env.req_id) -> bool:
                return rid in self._cancelled

            reply = self.core.handle(env.req_id, env.body, self._dispatch, cancelled)
            self._dispatch(reply)

    def shutdown(self, timeout: float = 0.0) -> None:
        self._queue.clear()
        self._pending.clear()
        self._set_state("stopped")
