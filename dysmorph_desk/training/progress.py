"""Progress with an ETA on stderr: a live bar on a terminal, a line every ~10 % in a log or pipe."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

Say = Callable[[str], None]


def fmt_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class Bar:
    """Counts images through a stage; ``update(n)`` after each batch, ``close()`` at the end."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.start = clock()
        self._next_decile = 1

    def rate(self) -> float:
        dt = self.clock() - self.start
        return self.done / dt if dt > 0 else 0.0

    def eta(self) -> float:
        r = self.rate()
        return (self.total - self.done) / r if r > 0 else float("nan")

    def text(self) -> str:
        frac = min(self.done / self.total, 1.0)
        bar = "#" * int(frac * 20) + "." * (20 - int(frac * 20))
        eta = self.eta()
        eta_s = fmt_duration(eta) if math.isfinite(eta) else "?"
        return f"{self.label} [{bar}] {self.done}/{self.total} {self.rate():.1f} img/s ETA {eta_s}"

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self.text())
            self.stream.flush()
        elif self.done * 10 >= self._next_decile * self.total:
            self._next_decile = self.done * 10 // self.total + 1
            print(self.text(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
