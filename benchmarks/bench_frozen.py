"""The frozen program's speed and size: prints numbers (not a test).

1. Sizes: the folder ``installer/dist/DysmorphDesk`` unpacked and the Linux ``.tar.gz``, and the
   biggest parts (targets: <= 520 MB unpacked, <= 200 MB compressed).
2. ``dysmorph-desk screen PHOTO --json - --report R.pdf``, cold (a fresh process and a fresh
   HOME each run), wall clock from launch to exit (target <= 2 s).
3. ``dysmorph-desk app PHOTO``: wall clock from launch to the window shown and to the first
   results on screen (targets <= 2 s / <= 3 s), from the app's ``--timings`` milestones.

Each run is ``env -i HOME=<tmp> PATH=/usr/bin:/bin`` like the smoke test; the app runs under a
private Xvfb on Linux (``apt-get install -y xvfb``) unless ``--display`` names one.

Usage: ``python3 benchmarks/bench_frozen.py [--runs 3]`` after ``installer/build.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "installer" / "dist"
APP_DIR = DIST / "DysmorphDesk"
EXE = APP_DIR / ("dysmorph-desk.exe" if sys.platform == "win32" else "dysmorph-desk")
PHOTO = ROOT / "resources" / "portraits" / "grace_hopper.jpg"


def env_for(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", **extra}


def sizes(top: int) -> None:
    files = [p for p in APP_DIR.rglob("*") if p.is_file() and not p.is_symlink()]
    total = sum(p.stat().st_size for p in files)
    print(f"unpacked: {total / 1e6:.1f} MB ({total / 2**20:.1f} MiB) in {len(files)} files")
    for archive in sorted(DIST.glob("DysmorphDesk-*.tar.gz")):
        size = archive.stat().st_size
        print(f"archive:  {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB)  {archive.name}")
    parts: dict[str, int] = {}
    internal = APP_DIR / "_internal"
    for p in files:
        rel = p.relative_to(internal).parts if internal in p.parents else (p.name,)
        key = "/".join(rel[:2]) if len(rel) > 2 else "/".join(rel)
        parts[key] = parts.get(key, 0) + p.stat().st_size
    for name, size in sorted(parts.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {size / 1e6:7.1f} MB  {name}")


def bench_screen(runs: int) -> None:
    times = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            t0 = time.perf_counter()
            proc = subprocess.run(
                [str(EXE), "screen", str(PHOTO), "--json", "-", "--report", f"{tmp}/R.pdf"],
                env=env_for(home),
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                print(f"screen run {i + 1} failed (exit {proc.returncode}): {proc.stderr[-500:]}")
                return
    print(
        f"frozen screen, cold (n = {runs}): median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s (target <= 2 s)"
    )


def start_xvfb() -> tuple[subprocess.Popen | None, str]:
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        return server, ":" + pipe.readline().strip()


def bench_app(runs: int, display: str | None) -> None:
    server = None
    if display is None and sys.platform.startswith("linux"):
        server, display = start_xvfb()
    window, results = [], []
    try:
        for i in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                extra = {"DISPLAY": display} if display else {}
                t0 = time.time()
                proc = subprocess.run(
                    [str(EXE), "app", str(PHOTO), "--exit-after-results", "--timings"],
                    env=env_for(Path(tmp) / "home", **extra),
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                events: dict[str, float] = {}
                for line in proc.stderr.splitlines():
                    if line.startswith('{"event"'):
                        event = json.loads(line)
                        events[event["event"]] = event["t"]
                if "window_shown" not in events or "results_shown" not in events:
                    print(f"app run {i + 1} failed (exit {proc.returncode}): {proc.stderr[-500:]}")
                    return
                window.append(events["window_shown"] - t0)
                results.append(events["results_shown"] - t0)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    print(
        f"frozen app (n = {runs}), from launch: window shown median "
        f"{statistics.median(window):.2f} s (target <= 2 s), first results median "
        f"{statistics.median(results):.2f} s (target <= 3 s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--display", default=None, help="an X display to use instead of Xvfb")
    args = parser.parse_args()
    if not EXE.is_file():
        print(f"no frozen build at {EXE}: run installer/build.py first", file=sys.stderr)
        return 2
    print(f"cpu: {os.cpu_count()} logical cores; {sys.platform}")
    sizes(args.top)
    bench_screen(args.runs)
    bench_app(args.runs, args.display)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
