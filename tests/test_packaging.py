"""A plain (non-editable) wheel carries everything: code, sample portraits, fonts, shipped bundles.

The wheel is built from a copy of the source tree (never in place: an in-tree ``build/`` is left
behind, and a stale one would leak deleted modules into later wheels), installed with
``pip install --target`` and imported from a process whose working directory is outside the
repository, so nothing can come from the checkout or the editable install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP_TOP = {
    ".git",
    ".venv",
    ".venv-runtime",
    ".venv-runtime-build",
    "installer",
    "venv",
    "data",
    "runs",
    "build",
    "dist",
    "tests",
    "benchmarks",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
}

PROBE = r"""
import json, sys
import dysmorph_desk
from dysmorph_desk.bundles import format as bundles
from dysmorph_desk.utils import resources
portraits = resources.sample_portraits()
with resources.as_path(resources.font_file("DejaVuSans.ttf")) as font:
    font_path, font_ok = str(font), font.is_file()
print(json.dumps({
    "package": dysmorph_desk.__file__,
    "portraits": [p.name for p in portraits],
    "portrait_paths": [str(p) for p in portraits],
    "font": font_path,
    "font_ok": font_ok,
    "droid_ok": resources.font_file("DroidSansFallbackFull.ttf").is_file(),
    "bundle_dirs": [[s, str(d)] for s, d in bundles.bundle_dirs()],
    "bundles": [[b.name, b.source, str(b.path)] for b in bundles.find_bundles()],
}))
"""


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"pip {' '.join(args[:2])} failed (a package missing from the local mirror?):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith((".egg-info", ".pyc"))}
        if Path(folder) == REPO:
            skip |= SKIP_TOP & set(names)
        return skip

    shutil.copytree(REPO, src, ignore=ignore)
    out = root / "dist"
    _pip("wheel", "--no-deps", "-q", "-w", str(out), str(src), cwd=root)
    wheels = list(out.glob("dysmorph_desk-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site") / "T"
    _pip(
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        "--target",
        str(target),
        str(wheel),
        cwd=target.parent,
    )
    return target


@pytest.mark.slow
def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "dysmorph_desk/assets/portraits/grace_hopper.jpg",
        "dysmorph_desk/assets/portraits/astronaut.png",
        "dysmorph_desk/assets/fonts/DroidSansFallbackFull.ttf",
        "dysmorph_desk/assets/fonts/DejaVuSans.ttf",
        "dysmorph_desk/assets/fonts/DejaVuSans-Bold.ttf",
        "dysmorph_desk/bundled_models/__init__.py",
        "dysmorph_desk/assets/guide/index.html",
        "dysmorph_desk/assets/guide/images/main-window.png",
        "dysmorph_desk/assets/hpo/manifest.json",
        "dysmorph_desk/assets/hpo/terms.npz",
        "dysmorph_desk/assets/hpo/diseases.npz",
    ):
        assert required in names, required
    for bundle in sorted((REPO / "models").glob("*.ddbundle")):
        assert f"dysmorph_desk/bundled_models/{bundle.name}" in names, bundle.name
    # every module of the source tree ships (the package list in pyproject.toml is explicit)
    for module in sorted((REPO / "dysmorph_desk").rglob("*.py")):
        rel = module.relative_to(REPO).as_posix()
        assert rel in names, f"{rel} is not in the wheel (a package missing from pyproject.toml?)"
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
        .decode()
    )
    assert "dysmorph-desk = dysmorph_desk.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "data/", "runs/")) or "__pycache__" in n for n in names)


@pytest.mark.slow
def test_installed_wheel_resolves_its_own_data(installed, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(installed), PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    root = str(installed.resolve())

    def inside(p: str) -> bool:
        return str(Path(p).resolve()).startswith(root + os.sep)

    assert inside(info["package"]), info["package"]
    assert info["portraits"] == ["astronaut.png", "grace_hopper.jpg"]
    assert all(inside(p) for p in info["portrait_paths"]), info["portrait_paths"]
    assert info["font_ok"] and info["droid_ok"] and inside(info["font"])
    shipped = dict(info["bundle_dirs"])["shipped"]
    assert inside(shipped) and Path(shipped).name == "bundled_models"
    shipped_bundles = [b for b in info["bundles"] if b[1] == "shipped"]
    assert all(inside(b[2]) for b in shipped_bundles)
    assert sorted(Path(b[2]).name for b in shipped_bundles) == sorted(
        p.name for p in (REPO / "models").glob("*.ddbundle")
    )


@pytest.mark.slow
def test_installed_wheel_runs_the_demo(installed, tmp_path, test_bundle):
    """The README's first command, from the wheel: bundled portrait, fonts, MTCNN weights, PDF."""
    env = dict(os.environ, PYTHONPATH=str(installed), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    report = tmp_path / "demo.pdf"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dysmorph_desk",
            "demo",
            "--out",
            str(report),
            "--model",
            str(test_bundle),
            "--cam",
            "none",
        ],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert report.read_bytes().startswith(b"%PDF")
    assert "1 face(s) detected" in proc.stdout
