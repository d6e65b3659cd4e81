"""Spawning the engine worker process, importable without Qt, numpy or torch, so the app can
start it first thing: the worker imports torch while the GUI process builds the window."""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass
from typing import Any


def worker_threads() -> int:
    """Torch threads for the worker: one core stays free for the UI (and whatever else runs).

    ``DYSMORPH_DESK_THREADS`` overrides. Oversubscribed OpenMP threads spin-wait, which on a busy
    two-core machine made one screening 50x slower (11 s instead of 0.2 s).
    """
    env = os.environ.get("DYSMORPH_DESK_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 2
    return max(1, min(4, cores - 1))


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
