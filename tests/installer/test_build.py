"""installer/: the build's environment checks, the licence file, the Linux launcher files and
install.sh — everything that can be checked without freezing (tests/installer/test_frozen.py
tests a real build)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "installer"
APP_ID = "io.github.dysmorphdesk.DysmorphDesk"


def _load(name: str):
    """installer/ is a folder of scripts, not a package: load one by path."""
    sys.path.insert(0, str(INSTALLER))
    try:
        spec = importlib.util.spec_from_file_location(
            f"dd_installer_{name}", INSTALLER / f"{name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(INSTALLER))


build = _load("build")
packaging_linux = _load("packaging_linux")
third_party = _load("third_party")

RUNTIME = ["numpy", "onnxruntime", "pyside6-essentials", "pyinstaller"]


def _check(names=RUNTIME, has=lambda m: True, system="linux", which=lambda p: "/bin/" + p):
    build.check_environment(names, has, system, which)


def test_a_runtime_install_with_pyinstaller_may_build():
    _check()


@pytest.mark.parametrize(
    "extra", [["torch"], ["torchvision"], ["triton"], ["nvidia-cudnn-cu13"], ["cuda-toolkit"]]
)
def test_torch_and_nvidia_libraries_refuse_with_the_fix(extra):
    with pytest.raises(build.BuildRefused) as info:
        _check(RUNTIME + extra)
    message = str(info.value)
    assert extra[0] in message and "must not carry" in message
    assert "python3 -m venv .venv-runtime-build" in message and "pyinstaller" in message
    assert "\n" not in message


def test_many_heavy_packages_are_counted_not_listed():
    names = RUNTIME + ["torch", "torchvision", "triton"] + [f"nvidia-lib{i}" for i in range(9)]
    with pytest.raises(build.BuildRefused) as info:
        _check(names)
    assert "torch, torchvision, triton, nvidia-lib0 and 8 more" in str(info.value)


def test_missing_pyinstaller_names_the_install_command():
    with pytest.raises(build.BuildRefused) as info:
        _check(has=lambda m: m != "PyInstaller")
    assert "PyInstaller is not installed" in str(info.value)
    assert "-m pip install -c constraints.txt pyinstaller" in str(info.value)


def test_windows_needs_inno_setup():
    with pytest.raises(build.BuildRefused) as info:
        _check(system="win32", which=lambda p: None)
    assert "Inno Setup" in str(info.value) and "--no-package" in str(info.value)
    _check(system="win32", which=lambda p: "C:/iscc.exe")  # present: fine


def test_the_real_build_refuses_this_python_in_one_line():
    """The dev install (torch) or a runtime install without PyInstaller: exit 2, one line."""
    names = build.installed_distributions()
    has_torch = "torch" in names
    if not has_torch and importlib.util.find_spec("PyInstaller") is not None:
        pytest.skip("this Python could really build (runtime install with PyInstaller)")
    proc = subprocess.run(
        [sys.executable, str(INSTALLER / "build.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert ("has torch" if has_torch else "PyInstaller is not installed") in lines[0]
    assert "Traceback" not in proc.stderr


def test_pyside6_gets_the_lgpl_text_it_names_but_does_not_ship():
    from dysmorph_desk.about import NO_TEXT, Notice

    licence = "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only"
    filled = third_party.with_known_text(Notice("PySide6_Essentials", "6.11.3", licence, NO_TEXT))
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in filled.text
    assert "GNU GENERAL PUBLIC LICENSE" in filled.text
    shipped = Notice("x", "1", licence, "its own text")
    assert third_party.with_known_text(shipped) is shipped


def test_the_interpreter_and_bootloader_notices_carry_texts():
    python = third_party.python_notice()
    assert python.name == "Python" and "PYTHON SOFTWARE FOUNDATION" in python.text.upper()
    if importlib.util.find_spec("PyInstaller") is not None:
        assert "bootloader" in third_party.pyinstaller_notice().text.lower()


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg (Debian/Ubuntu)")
def test_system_libraries_are_traced_to_their_debian_package(tmp_path):
    found = [p for p in Path("/usr/lib").rglob("libz.so.1") if p.exists()]
    if not found:
        pytest.skip("no libz.so.1 under /usr/lib")
    shutil.copy2(found[0], tmp_path / "libz.so.1")
    (tmp_path / "libmade-up-dd.so.3").write_bytes(b"\x7fELF")
    libraries = third_party.system_libraries(tmp_path)
    assert [p.name for p in libraries] == ["libmade-up-dd.so.3", "libz.so.1"]
    notices, unowned = third_party.debian_notices(libraries)
    assert [p.name for p in unowned] == ["libmade-up-dd.so.3"]
    assert len(notices) == 1 and "libz.so.1" in notices[0].name
    assert "zlib" in notices[0].text.lower()


def test_icons_render_at_every_size(tmp_path):
    from PIL import Image

    pngs = build.render_icons(tmp_path)
    assert sorted(pngs) == list(build.ICON_SIZES)
    for size, path in pngs.items():
        image = Image.open(path)
        assert image.size == (size, size)
        assert image.getextrema()[3][1] == 255  # not blank: opaque pixels drawn
    assert (tmp_path / "dysmorph-desk.ico").stat().st_size > 0
    assert (tmp_path / "dysmorph-desk.icns").read_bytes()[:4] == b"icns"


@pytest.fixture
def stage(tmp_path):
    icons = tmp_path / "icons"
    icons.mkdir()
    for size in (16, 48, 256):
        (icons / f"{size}x{size}.png").write_bytes(b"\x89PNG fake")
    shutil.copy2(REPO / "resources" / "icons" / "app.svg", icons / "dysmorph-desk.svg")
    stage = packaging_linux.stage_linux(tmp_path / "stage", icons, "0.1.0", APP_ID)
    program = stage / "DysmorphDesk"
    (program / "_internal" / "dysmorph_desk" / "bundled_models").mkdir(parents=True)
    (program / "dysmorph-desk").write_text("#!/bin/sh\necho frozen-stand-in\n")
    (program / "dysmorph-desk").chmod(0o755)
    return stage


def test_the_staged_launcher_files(stage):
    share = stage / "share"
    assert (share / "applications" / f"{APP_ID}.desktop").is_file()
    metainfo = (share / "metainfo" / f"{APP_ID}.metainfo.xml").read_text()
    assert '<release version="0.1.0" type="development" date="' in metainfo
    assert "@" not in metainfo
    for size in (16, 48, 256):
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert os.access(stage / "install.sh", os.X_OK)
    assert "not a diagnosis" in (stage / "README.txt").read_text()


def test_the_release_date_follows_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert packaging_linux.release_date() == "2023-11-14"


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None, reason="needs desktop-file-utils"
)
def test_the_desktop_file_validates(stage):
    desktop = stage / "share" / "applications" / f"{APP_ID}.desktop"
    proc = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="needs appstream")
def test_the_metainfo_validates(stage):
    metainfo = stage / "share" / "metainfo" / f"{APP_ID}.metainfo.xml"
    proc = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(metainfo)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _sh(stage: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["sh", str(stage / "install.sh"), *args], env=env, capture_output=True, text=True
    )


def test_install_sh_installs_for_the_user_and_uninstalls(stage, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = _sh(stage, home)
    assert proc.returncode == 0, proc.stderr
    prefix = home / ".local" / "opt" / "DysmorphDesk"
    assert (prefix / "dysmorph-desk").is_file()
    link = home / ".local" / "bin" / "dysmorph-desk"
    assert link.is_symlink() and link.resolve() == (prefix / "dysmorph-desk").resolve()
    desktop = (home / ".local/share/applications" / f"{APP_ID}.desktop").read_text()
    assert f'Exec="{prefix}/dysmorph-desk" app %f' in desktop
    assert f"TryExec={prefix}/dysmorph-desk" in desktop
    assert (home / ".local/share/icons/hicolor/48x48/apps" / f"{APP_ID}.png").is_file()
    assert (home / ".local/share/metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    # an update replaces the program and leaves no temporary copy behind
    assert _sh(stage, home).returncode == 0
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["DysmorphDesk"]
    proc = _sh(stage, home, "--uninstall")
    assert proc.returncode == 0, proc.stderr
    assert not prefix.exists() and not link.exists()
    assert not (home / ".local/share/applications" / f"{APP_ID}.desktop").exists()


def test_install_sh_refuses_an_incomplete_archive_in_one_line(stage, tmp_path):
    shutil.rmtree(stage / "DysmorphDesk" / "_internal")
    proc = _sh(stage, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "install.sh: the archive is incomplete: the models folder is missing; download it again"
    )


def test_install_sh_refuses_to_overwrite_a_foreign_folder(stage, tmp_path):
    foreign = tmp_path / "elsewhere"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    proc = _sh(stage, tmp_path, "--prefix", str(foreign))
    assert proc.returncode == 2 and "not a DysmorphDesk installation" in proc.stderr
    assert (foreign / "notes.txt").read_text() == "keep me"
