"""Size of the runtime-only install (no [train] extra, so no torch) and a screen run in it.

    .venv/bin/python benchmarks/runtime_size.py [--venv /tmp/ddrt] [--keep] [--top 15]

Creates a fresh venv with exactly what a clinic installs (``python3 -m venv VENV &&
VENV/bin/pip install -q -c constraints.txt -e REPO``: the package's default dependencies),
prints ``du`` of the venv and its biggest installed distributions, checks torch is absent, then
runs ``VENV/bin/dysmorph-desk screen resources/portraits/grace_hopper.jpg --json - --no-report``
once and prints ``ok`` with its exit code. Goal: the venv <= 650 MB.

The install is editable, so the bundled models (``models/``, ~36 MB) and ``resources/`` are read
from the repository and are not in the venv's ``du``; the wheel would add them (printed too).
If pip fails, its message is printed and the script exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MB = 650


def du_bytes(path: Path) -> int:
    """Disk usage like ``du -sb`` (apparent sizes, hard links once)."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def du_blocks(path: Path) -> int:
    """Disk usage like plain ``du -s`` (allocated blocks), in bytes."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def mb(n: int) -> str:
    return f"{n / 1e6:8.1f} MB"


def distributions(python: Path) -> list[tuple[str, str, int]]:
    """(name, version, bytes on disk) of every distribution in the venv, from their RECORD files."""
    code = r"""
import json, os
from importlib import metadata
rows = []
for d in metadata.distributions():
    total = 0
    seen = set()
    for f in d.files or []:
        p = os.path.realpath(d.locate_file(f))
        if p in seen or "/__editable__" in p:
            continue
        seen.add(p)
        try:
            total += os.path.getsize(p)
        except OSError:
            pass
    rows.append((d.metadata["Name"], d.version, total))
print(json.dumps(rows))
"""
    # -I and a neutral cwd: never pick up the repository's own dysmorph_desk.egg-info
    out = subprocess.run(
        [str(python), "-I", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return [tuple(r) for r in json.loads(out.stdout)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", default="/tmp/ddrt", help="where to create the venv (replaced)")
    ap.add_argument("--keep", action="store_true", help="reuse an existing venv, do not reinstall")
    ap.add_argument("--top", type=int, default=15, help="how many of the biggest packages to list")
    args = ap.parse_args()
    venv = Path(args.venv)
    py, pip, cli = venv / "bin" / "python", venv / "bin" / "pip", venv / "bin" / "dysmorph-desk"

    if not (args.keep and cli.exists()):
        if venv.exists():
            shutil.rmtree(venv)
        t0 = time.perf_counter()
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        cmd = [str(pip), "install", "-q", "-c", str(ROOT / "constraints.txt"), "-e", str(ROOT)]
        print("$", " ".join(cmd))
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if res.returncode != 0:
            print(f"pip FAILED (exit {res.returncode}):")
            print((res.stdout + res.stderr).strip()[-4000:])
            return 2
        if res.stderr.strip():
            print("pip stderr:", res.stderr.strip()[-2000:])
        print(f"installed in {time.perf_counter() - t0:.0f} s")

    total = du_bytes(venv)
    blocks = du_blocks(venv)
    site = next((venv / "lib").glob("python3*/site-packages"))
    print(
        f"\nruntime venv {venv}: {total / 1e6:.1f} MB = {total / 2**20:.1f} MiB apparent (du -sb); "
        f"{blocks / 1e6:.1f} MB = {blocks / 2**20:.1f} MiB on disk (du -s); "
        f"site-packages {mb(du_bytes(site)).strip()}"
    )
    tooling = sum(
        du_bytes(p)
        for pat in ("pip*", "setuptools*", "pkg_resources", "_distutils_hack")
        for p in site.glob(pat)
    )
    print(f"  of which pip + setuptools (venv tooling, not the app): {mb(tooling).strip()}")
    verdict = "MET" if total / 1e6 <= GOAL_MB else "MISSED"
    print(f"goal <= {GOAL_MB} MB (apparent, decimal MB): {verdict}")
    bundles = sum(p.stat().st_size for p in (ROOT / "models").glob("*.ddbundle"))
    res_bytes = du_bytes(ROOT / "resources")
    print(
        f"(editable install: bundled models {mb(bundles).strip()} and resources/ "
        f"{mb(res_bytes).strip()} stay in the repo; a wheel install adds "
        f"{mb(bundles + res_bytes).strip()} -> {mb(total + bundles + res_bytes).strip()})"
    )

    rows = sorted(distributions(py), key=lambda r: -r[2])
    print(f"\nbiggest of {len(rows)} distributions:")
    for name, version, size in rows[: args.top]:
        print(f"  {name:28s} {version:14s} {mb(size)}")
    rest = sum(r[2] for r in rows[args.top :])
    print(f"  {'(the other ' + str(max(0, len(rows) - args.top)) + ')':43s} {mb(rest)}")
    names = {r[0].lower() for r in rows}
    torch_side = {"torch", "torchvision", "facenet-pytorch", "grad-cam", "scikit-learn"}
    torch_side |= {"matplotlib", "scipy", "triton"}
    heavy = sorted(n for n in names if n in torch_side or n.startswith("nvidia-"))
    print(f"torch-side packages present: {', '.join(heavy) if heavy else 'none'}")

    photo = ROOT / "resources" / "portraits" / "grace_hopper.jpg"
    home = tempfile.mkdtemp(prefix="ddrt-home-")
    env = {**os.environ, "DYSMORPH_DESK_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)
    cmd = [str(cli), "screen", str(photo), "--json", "-", "--no-report"]
    print("\n$", " ".join(cmd))
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - t0
    print(f"exit code {res.returncode}, {wall:.2f} s wall")
    summary = ""
    if res.returncode == 0:
        try:
            doc = json.loads(res.stdout)
            items = doc if isinstance(doc, list) else [doc]
            parts = []
            for item in items:
                for r in item.get("results", []):
                    parts.append(f"{r.get('model')}: {r.get('syndromic_probability')}")
            summary = "; ".join(parts)
        except ValueError as exc:
            summary = f"(stdout is not JSON: {exc})"
    check = subprocess.run(
        [str(py), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
        capture_output=True,
        text=True,
    )
    torch_absent = check.stdout.strip() == "True"
    if res.returncode == 0 and torch_absent:
        print(f"ok (exit {res.returncode}) — torch not installed; {summary}")
    else:
        print(f"FAILED (exit {res.returncode}); torch absent: {torch_absent}")
        print(res.stderr.strip()[-3000:])
    shutil.rmtree(home, ignore_errors=True)
    return 0 if res.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
