"""Smoke test of the frozen program built by ``installer/build.py`` (installer/dist/DysmorphDesk).

Each run is a clean environment — ``env -i HOME=<tmp> PATH=/usr/bin:/bin``: no virtual
environment, no Python on the path — so everything must come from the bundle. Skipped (with the
command to build) when there is no build, unless ``DD_REQUIRE_FROZEN=1`` (CI), which makes a
missing build a failure. Read-only folders are read-only mounts (CI runs as root, which ignores
file permissions); those tests skip where mounting is not allowed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "installer" / "dist"
PHOTO = REPO / "resources" / "portraits" / "grace_hopper.jpg"
LINUX = sys.platform.startswith("linux")
VERSION = re.search(
    r'__version__ = "([^"]+)"', (REPO / "dysmorph_desk" / "__init__.py").read_text()
)[1]  # type: ignore[index]
BUILD = ".venv-runtime-build/bin/python installer/build.py"


def _executable() -> Path:
    if sys.platform == "win32":
        return DIST / "DysmorphDesk" / "dysmorph-desk.exe"
    if sys.platform == "darwin":
        return DIST / "DysmorphDesk.app" / "Contents" / "MacOS" / "dysmorph-desk"
    return DIST / "DysmorphDesk" / "dysmorph-desk"


@pytest.fixture(scope="module")
def exe() -> Path:
    path = _executable()
    if not path.is_file():
        if os.environ.get("DD_REQUIRE_FROZEN") == "1":
            pytest.fail(f"no frozen build at {path} (DD_REQUIRE_FROZEN=1)")
        pytest.skip(f"no frozen build at {path.relative_to(REPO)}: build it with {BUILD}")
    return path


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """``env -i HOME=<tmp> PATH=/usr/bin:/bin`` (and what Windows cannot start without)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    if sys.platform == "win32":
        env = {
            "PATH": os.environ.get("SYSTEMROOT", r"C:\Windows") + r"\System32",
            "SYSTEMROOT": os.environ.get("SYSTEMROOT", r"C:\Windows"),
            "USERPROFILE": str(home),
            "APPDATA": str(home / "AppData" / "Roaming"),
            "LOCALAPPDATA": str(home / "AppData" / "Local"),
            "TEMP": str(home),
            "TMP": str(home),
        }
    env.update(extra)
    return env


def run(exe: Path, home: Path, *args: object, cwd: Path | None = None, **env: str):
    return subprocess.run(
        [str(exe), *map(str, args)],
        env=clean_env(home, **env),
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_version(exe, tmp_path):
    proc = run(exe, tmp_path / "home", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"dysmorph-desk {VERSION}"


def test_screen_writes_json_and_a_report_with_a_heatmap(exe, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    report = tmp_path / "R.pdf"
    started = time.monotonic()
    proc = run(exe, tmp_path / "home", "screen", PHOTO, "--json", "-", "--report", report)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema_version"] == 2
    result = document["photos"][0]["results"][0]
    assert result["assessable"] and result["cam_method"] != "none"
    data = report.read_bytes()
    assert data.startswith(b"%PDF")
    first = pypdf.PdfReader(report).pages[0]
    assert "Heatmaps" in first.extract_text()
    assert len(first.images) >= 3  # the photo, the aligned face and its heatmap
    assert "Traceback" not in proc.stderr
    print(f"frozen screen, cold: {elapsed:.2f} s")


def test_the_demo_gallery_ranks_with_a_bundle_the_installer_carries(exe, tmp_path):
    """The installer leaves demo-resnet18 out (the archive's size target, see the spec), never the
    demo gallery's encoder: `screen --gallery demo-syndromes` works in the installed app."""
    from dysmorph_desk.gallery.links import resolve_gallery
    from dysmorph_desk.gallery.store import read_gallery

    (encoder, *_) = read_gallery(resolve_gallery("demo-syndromes")).sets.values()
    carried = {p.stem for p in DIST.rglob("bundled_models/*.ddbundle")}
    assert encoder.bundle_name in carried and "demo-resnet18" not in carried
    # the guide inside the app says which model it does not carry (installer/contents.py)
    (page,) = DIST.rglob("assets/guide/model-demo-resnet18.html")
    assert "Not in the installers." in page.read_text(encoding="utf-8")
    out = tmp_path / "r.json"
    proc = run(
        exe, tmp_path / "home", "screen", PHOTO, "--model", encoder.bundle_name, "--cam", "none",
        "--no-report", "--gallery", "demo-syndromes", "--hpo", "HP:0000316", "--json", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())["differential"]) == 10


def test_no_torch_inside(exe):
    root = exe.parent if sys.platform != "darwin" else exe.parents[1]
    names = {p.name.lower() for p in root.rglob("*")}
    assert not {"torch", "torchvision", "triton", "nvidia"} & names
    assert not [n for n in names if n.startswith(("libtorch", "libcudnn", "libcublas", "libnccl"))]
    assert not [n for n in names if n.endswith(".pem")]  # no private key shipped
    build_python = Path(os.environ.get("DD_BUILD_PYTHON", REPO / ".venv-runtime-build/bin/python"))
    if not build_python.is_absolute():
        build_python = REPO / build_python
    if not build_python.exists():
        pytest.skip(f"{build_python} (the build's Python) lists the archive's modules")
    proc = subprocess.run(
        [str(build_python), str(REPO / "installer" / "build.py"), "--list-modules"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = proc.stdout.split()
    assert "dysmorph_desk.engine.worker" in modules and "onnxruntime" in modules
    packages = {m.split(".")[0] for m in modules}
    assert not packages & {"torch", "torchvision", "triton", "facenet_pytorch", "sklearn", "scipy"}


def _private_copy(exe: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "DysmorphDesk"
    try:  # hard links: a private copy of the 450 MB folder in a moment
        subprocess.run(["cp", "-al", str(exe.parent), str(copy)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(exe.parent, copy, symlinks=True)
    return copy


def _assert_models_missing_is_one_line(proc) -> None:
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("dysmorph-desk: error:"), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(sys.platform == "darwin", reason="the .app is signed as a whole")
def test_an_emptied_models_folder_is_one_line(exe, tmp_path):
    copy = _private_copy(exe, tmp_path)
    for bundle in (copy / "_internal" / "dysmorph_desk" / "bundled_models").glob("*.ddbundle"):
        bundle.unlink()
    proc = run(copy / exe.name, tmp_path / "home", "screen", PHOTO, "--json", "-")
    _assert_models_missing_is_one_line(proc)


@pytest.mark.skipif(sys.platform == "darwin", reason="the .app is signed as a whole")
def test_a_deleted_models_folder_is_one_line(exe, tmp_path):
    copy = _private_copy(exe, tmp_path)
    shutil.rmtree(copy / "_internal" / "dysmorph_desk" / "bundled_models")
    proc = run(copy / exe.name, tmp_path / "home", "screen", PHOTO, "--json", "-")
    _assert_models_missing_is_one_line(proc)


def _mount(*args: str) -> bool:
    return (
        LINUX
        and shutil.which("mount") is not None
        and subprocess.run(["mount", *args], capture_output=True).returncode == 0
    )


@pytest.fixture
def read_only_copy(exe, tmp_path):
    """The program folder bind-mounted read-only."""
    target = tmp_path / "ro"
    target.mkdir()
    if not _mount("--bind", str(exe.parent), str(target)):
        pytest.skip("bind mounts need root on Linux")
    try:
        if not _mount("-o", "remount,ro,bind", str(target)):
            pytest.skip("cannot remount read-only here")
        yield target
    finally:
        subprocess.run(["umount", str(target)], capture_output=True)


def test_runs_from_a_read_only_install_folder(read_only_copy, tmp_path):
    proc = run(read_only_copy / "dysmorph-desk", tmp_path / "home", "screen", PHOTO, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema_version"] == 2


def test_a_read_only_home_still_screens(exe, tmp_path):
    home = tmp_path / "rohome"
    home.mkdir()
    if not _mount("-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(home)):
        pytest.skip("tmpfs mounts need root on Linux")
    try:
        out = tmp_path / "out"
        out.mkdir()
        proc = run(exe, home, "screen", PHOTO, "--json", out / "r.json", cwd=out)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert json.loads((out / "r.json").read_text())["schema_version"] == 2
    finally:
        subprocess.run(["umount", str(home)], capture_output=True)


@pytest.mark.skipif(not LINUX, reason="the display check is for Linux")
def test_app_without_a_display_is_one_line_and_exit_2(exe, tmp_path):
    proc = run(exe, tmp_path / "home", "app", PHOTO)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("dysmorph-desk: error: the app cannot open a window")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.fixture
def display(tmp_path):
    """A private Xvfb display (Linux); elsewhere the runner's own desktop."""
    if not LINUX:
        yield {}
        return
    if shutil.which("Xvfb") is None:
        pytest.skip("needs Xvfb (apt-get install -y xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        if not number:
            pytest.fail("Xvfb did not start")
        yield {"DISPLAY": f":{number}"}
    finally:
        server.terminate()
        server.wait(timeout=10)


def _window_titles(env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True, check=False
    )
    return re.findall(r'0x[0-9a-f]+ "([^"]*)"', proc.stdout)


def test_app_shows_its_window_then_the_engines_first_results(exe, tmp_path, display):
    home = tmp_path / "home"
    env = clean_env(home, **display)
    started = time.monotonic()
    app = subprocess.Popen(
        [str(exe), "app", str(PHOTO), "--exit-after-results", "--timings"],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    titles: list[str] = []
    if LINUX and shutil.which("xwininfo"):
        while app.poll() is None and not any(t.startswith("DysmorphDesk") for t in titles):
            titles = _window_titles(env)
            time.sleep(0.05)
    _, err = app.communicate(timeout=180)
    elapsed = time.monotonic() - started
    assert app.returncode == 0, err
    events = [json.loads(line) for line in err.splitlines() if line.startswith('{"event"')]
    names = [e["event"] for e in events]
    assert names.index("window_shown") < names.index("results_shown"), names
    assert "failed" not in names and "Traceback" not in err
    if LINUX and shutil.which("xwininfo"):
        assert any(t.startswith("DysmorphDesk") for t in titles), titles
    # the engine really ran in its own process (freeze_support: not a second app)
    log = next(home.rglob("dysmorph-desk.log")).read_text(encoding="utf-8", errors="replace")
    workers = re.findall(r"engine worker (\d+) started", log)
    assert workers and all(int(pid) != app.pid for pid in workers), log[-2000:]
    t0 = events[0]["t"]
    times = {e["event"]: round(e["t"] - t0, 2) for e in events}
    print(f"frozen app: {elapsed:.2f} s in all; milestones after main(): {times}")


def _hidden_library_files(sonames: tuple[str, ...]) -> list[str]:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    proc = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=False)
    files = {
        str(Path(path).resolve())
        for name, _, path in (line.strip().partition(" => ") for line in proc.stdout.splitlines())
        if name.split(" ")[0] in sonames
    }
    return sorted(files)


@pytest.mark.skipif(not LINUX, reason="the bundle's own X11 libraries: Linux")
def test_the_bundle_carries_the_x11_libraries_qt_needs(exe, tmp_path, display):
    """With the system's libxcb-cursor/icccm/keysyms made unloadable (``/dev/null`` bind-mounted
    over them in a private mount namespace), the frozen app still opens and screens."""
    hidden = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    files = _hidden_library_files(hidden)
    if len(files) < len(hidden) or shutil.which("unshare") is None:
        pytest.skip("needs those libraries installed on this system and unshare")
    script = "".join(f"mount --bind /dev/null {f} && " for f in files) + 'exec "$@"'
    app = [str(exe), "app", str(PHOTO), "--exit-after-results", "--timings"]
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *app],
        env=clean_env(tmp_path / "home", **display),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if "unshare failed" in proc.stderr or proc.stderr.startswith("mount:"):
        pytest.skip(f"mount namespaces are not allowed here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    assert '"event": "results_shown"' in proc.stderr


def test_the_licences_of_everything_inside_are_beside_the_executable(exe):
    from dysmorph_desk.about import NO_TEXT, parse_notices

    root = exe.parent if sys.platform != "darwin" else exe.parents[1] / "Resources"
    notices = {n.name: n for n in parse_notices((root / "THIRD_PARTY_LICENSES.txt").read_text())}
    for name in ("numpy", "onnxruntime", "PySide6_Essentials", "Python", "PyInstaller bootloader"):
        assert name in notices, sorted(notices)
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in notices["PySide6_Essentials"].text
    assert "DejaVu Sans fonts" in notices and "Droid Sans Fallback font" in notices
    assert all(n.text.strip() and n.text != NO_TEXT for n in notices.values())
    if LINUX and shutil.which("dpkg"):  # the X11 libraries the bundle carries, by package
        assert any(name.startswith("libxcb-icccm4 (system library") for name in notices)


@pytest.mark.skipif(not LINUX or shutil.which("xwininfo") is None, reason="needs X11's xwininfo")
def test_a_double_click_without_arguments_opens_the_app(exe, tmp_path, display):
    env = clean_env(tmp_path / "home", **display)
    app = subprocess.Popen([str(exe)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    titles: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while app.poll() is None and time.monotonic() < deadline:
            titles = _window_titles(env)
            if any(t.startswith("DysmorphDesk") for t in titles):
                break
            time.sleep(0.1)
    finally:
        # SIGKILL: the app does not yet quit on SIGTERM (cli.main turns it into a
        # KeyboardInterrupt, which lands in a Qt slot); the engine ends when its pipe closes
        app.kill()
        app.wait()
    assert any(t.startswith("DysmorphDesk") for t in titles), titles
