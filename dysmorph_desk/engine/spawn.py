"""Spawning the engine worker process, importable without Qt, numpy or torch, so the app can
start it first thing: the worker imports torch while the GUI process builds the window."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from typing import Any

from dysmorph_desk.utils.devices import default_threads


def worker_threads() -> int:
    """Threads for the worker's models (``utils.devices.default_threads``)."""
    return default_threads()


def _entry(requests: Any, responses: Any) -> None:
    from dysmorph_desk.engine.worker import worker_main

    worker_main(requests, responses)


@dataclass
class WorkerHandle:
    process: Any  # multiprocessing Process
    requests: Any  # Connection: GUI -> worker
    responses: Any  # Connection: worker -> GUI


def spawn_worker() -> WorkerHandle:
    ctx = mp.get_context("spawn")
    req_r, req_w = ctx.Pipe(duplex=False)
    resp_r, resp_w = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_entry, args=(req_r, resp_w), name="dysmorph-engine", daemon=True)
    proc.start()
    req_r.close()
    resp_w.close()  # so the GUI's reader sees EOF when the worker dies
    return WorkerHandle(proc, req_w, resp_r)
