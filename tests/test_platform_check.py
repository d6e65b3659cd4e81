"""Before Qt starts: no display or a missing X11 library is one line and exit 2, never Qt's abort.

Missing libraries are simulated by injecting the finder (this machine has them all); the real
``dysmorph-desk app`` runs in subprocesses with no display and with a library made unloadable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dysmorph_desk import platform_check
from dysmorph_desk.errors import UsageError
from dysmorph_desk.platform_check import (
    XCB_LIBRARIES,
    PlatformUnavailable,
    check_app_platform,
    library_loads,
    missing_libraries,
    platform_problem,
    x_display_reachable,
)

REPO = Path(__file__).resolve().parents[1]
X11 = {"DISPLAY": ":0"}


def all_present(soname: str) -> bool:
    return True


def reachable(display: str) -> bool:
    return True


def missing(*sonames: str):
    """A finder for which exactly these sonames fail to load."""
    return lambda soname: soname not in sonames


def test_everything_present_with_a_display_passes():
    assert platform_problem(X11, "linux", all_present, reachable) is None
    check_app_platform(X11, "linux", all_present, reachable)


@pytest.mark.parametrize(
    "platform", ["offscreen", "minimal", "vnc:size=800x600", "eglfs", "linuxfb", "Offscreen"]
)
def test_headless_qt_platforms_need_no_display_or_x11(platform):
    finder = missing(*(lib.soname for lib in XCB_LIBRARIES))
    assert platform_problem({"QT_QPA_PLATFORM": platform}, "linux", finder, reachable) is None


@pytest.mark.parametrize("system", ["win32", "darwin"])
def test_windows_and_macos_are_not_checked(system):
    assert platform_problem({}, system, missing("libxcb.so.1"), reachable) is None


def test_missing_libraries_are_named_with_their_debian_and_fedora_packages():
    finder = missing("libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    problem = platform_problem(X11, "linux", finder, reachable)
    assert problem is not None
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 (Debian/Ubuntu)" in problem
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms (Fedora)" in problem
    assert "\n" not in problem
    assert "libxcb-cursor" not in problem  # only what is missing


def test_a_fedora_package_shared_by_several_libraries_is_named_once():
    finder = missing("libxcb-shape.so.0", "libxcb-randr.so.0", "libxcb-xkb.so.1")
    problem = platform_problem(X11, "linux", finder, reachable)
    assert problem is not None
    assert "sudo apt install libxcb-xkb1 libxcb-shape0 libxcb-randr0 (Debian/Ubuntu)" in problem
    assert "sudo dnf install libxcb (Fedora)" in problem


def test_the_usual_ubuntu_gap_names_libxcb_cursor0():
    problem = platform_problem(X11, "linux", missing("libxcb-cursor.so.0"), reachable)
    assert problem is not None and "libxcb-cursor0" in problem and "xcb-util-cursor" in problem


def test_no_display_says_so_and_points_to_the_command_line():
    problem = platform_problem({}, "linux", all_present, reachable)
    assert problem is not None
    assert "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)" in problem
    assert "dysmorph-desk screen PHOTO" in problem


def test_no_display_and_missing_libraries_are_one_message():
    problem = platform_problem({}, "linux", missing("libxcb-cursor.so.0"), reachable)
    assert problem is not None
    assert "no display" in problem and "libxcb-cursor0" in problem
    assert "\n" not in problem


def test_xcb_asked_for_without_display():
    env = {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}
    problem = platform_problem(env, "linux", all_present, reachable)
    assert problem is not None and "no X display (DISPLAY is not set)" in problem


def test_wayland_asked_for_without_a_compositor():
    env = {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}
    problem = platform_problem(env, "linux", all_present, reachable)
    assert problem is not None and "WAYLAND_DISPLAY is not set" in problem


def test_a_wayland_session_does_not_need_the_x11_libraries():
    asked: list[str] = []

    def finder(soname: str) -> bool:
        asked.append(soname)
        return False

    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert platform_problem(env, "linux", finder, reachable) is None
    assert asked == []
    # an X11 session with XWayland around still uses the xcb plugin
    env = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}
    assert platform_problem(env, "linux", finder, reachable) is not None


def test_an_x_server_that_does_not_answer_is_reported():
    problem = platform_problem(X11, "linux", all_present, lambda display: False)
    assert problem is not None and "cannot connect to the X display ':0'" in problem


def test_the_skip_variable_turns_the_check_off():
    env = {platform_check.SKIP_VARIABLE: "1"}
    assert platform_problem(env, "linux", missing("libxcb.so.1"), reachable) is None
    env = {platform_check.SKIP_VARIABLE: "0"}
    assert platform_problem(env, "linux", all_present, reachable) is not None


def test_check_raises_a_usage_error_with_exit_2():
    with pytest.raises(PlatformUnavailable) as info:
        check_app_platform({}, "linux", all_present, reachable)
    assert isinstance(info.value, UsageError)
    assert info.value.exit_code == 2


def test_the_real_loader_finds_libc_and_not_a_made_up_library():
    assert library_loads("libc.so.6", bundle_dirs=[])
    assert not library_loads("libdysmorph-nonexistent.so.9", bundle_dirs=[])


def test_a_frozen_bundle_counts_its_own_libraries(tmp_path, monkeypatch):
    (tmp_path / "libxcb-cursor.so.0").write_bytes(b"")  # never loaded: found in the bundle
    qt_lib = tmp_path / "PySide6" / "Qt" / "lib"
    qt_lib.mkdir(parents=True)
    (qt_lib / "libxcb-icccm.so.4").write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert platform_check.bundle_library_dirs() == [tmp_path, qt_lib]
    assert library_loads("libxcb-cursor.so.0")
    assert library_loads("libxcb-icccm.so.4")
    assert not library_loads("libdysmorph-nonexistent.so.9")


def test_not_frozen_means_no_bundle_folders():
    assert platform_check.bundle_library_dirs() == []


def test_missing_libraries_keep_the_message_order():
    names = [lib.soname for lib in missing_libraries(missing("libX11.so.6", "libxcb-cursor.so.0"))]
    assert names == ["libxcb-cursor.so.0", "libX11.so.6"]


def test_an_x_display_nobody_listens_on_is_unreachable(tmp_path):
    # a display number no X server uses: libxcb finds no socket and says so at once
    assert x_display_reachable(":4987") is False


def _run_app(env: dict[str, str], *extra: str, code: str | None = None):
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "dysmorph_desk"]
    return subprocess.run(
        [*argv, "app", *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")
    }
    env["DYSMORPH_DESK_HOME"] = str(tmp_path / "home")
    return env


def test_app_without_a_display_is_one_line_and_exit_2(tmp_path, portraits):
    proc = _run_app(_clean_env(tmp_path), str(portraits["grace_hopper"]))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dysmorph-desk: error: the app cannot open a window: no display")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    assert proc.stdout == ""


PROBE_MISSING = """
import ctypes, multiprocessing, sys
real = ctypes.CDLL
class Refusing(real):
    def __init__(self, name, *args, **kwargs):
        if name in ("libxcb-icccm.so.4", "libxcb-cursor.so.0"):
            raise OSError(name + ": cannot open shared object file")
        super().__init__(name, *args, **kwargs)
ctypes.CDLL = Refusing
from dysmorph_desk.cli import main
code = main(sys.argv[1:])
assert "PySide6" not in sys.modules, "Qt was imported"
assert not multiprocessing.active_children(), "the engine was started"
sys.exit(code)
"""


def test_app_with_a_library_missing_names_it_and_starts_nothing(tmp_path):
    env = _clean_env(tmp_path)
    env["DISPLAY"] = ":4987"
    proc = _run_app(env, code=PROBE_MISSING)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4" in lines[0]
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 (Debian/Ubuntu)" in lines[0]
    assert "sudo dnf install xcb-util-cursor xcb-util-wm (Fedora)" in lines[0]


def _real_library_files(sonames: tuple[str, ...]) -> list[str]:
    """The files the loader would open for these sonames (from ``ldconfig -p``)."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    proc = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=False)
    files = []
    for line in proc.stdout.splitlines():
        name, _, path = line.strip().partition(" => ")
        if name.split(" ")[0] in sonames:
            files.append(str(Path(path).resolve()))
    return sorted(set(files))


HIDDEN = ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")


def hide_libraries_then(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``command`` in a private mount namespace where the HIDDEN libraries are empty files
    (``/dev/null`` bind-mounted over them): a real system without them, for root on Linux."""
    files = _real_library_files(HIDDEN)
    if len(files) < len(HIDDEN) or shutil.which("unshare") is None:
        pytest.skip("needs the X11 libraries installed and unshare")
    script = "".join(f"mount --bind /dev/null {f} && " for f in files) + 'exec "$@"'
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "unshare failed" in proc.stderr or "mount:" in proc.stderr:
        pytest.skip(f"mount namespaces are not allowed here: {proc.stderr.strip()[:200]}")
    return proc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 libraries: Linux")
def test_really_missing_libraries_name_their_packages(tmp_path):
    env = _clean_env(tmp_path)
    env["DISPLAY"] = ":4987"
    proc = hide_libraries_then([sys.executable, "-m", "dysmorph_desk", "app"], env)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in proc.stderr
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 (Debian/Ubuntu)" in proc.stderr


def test_a_platform_list_needs_only_one_display():
    from dysmorph_desk.platform_check import platform_problem

    def ok(*_a, **_k):
        return True

    x11_only = {"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}
    assert platform_problem(x11_only, system="linux", finder=ok, probe=ok) is None
    neither = {"QT_QPA_PLATFORM": "wayland;xcb"}
    assert "no display" in platform_problem(neither, system="linux", finder=ok, probe=ok)
