"""The app launchers: the ``dysmorph-desk-app`` gui-script and the frozen ``dysmorph-desk``."""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

from dysmorph_desk import __version__, gui_entry
from dysmorph_desk.gui_entry import app_argv, frozen_argv


def test_the_gui_script_is_declared():
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="gui_scripts")}
    assert scripts.get("dysmorph-desk-app") == "dysmorph_desk.gui_entry:main"


def test_app_argv_always_means_the_app():
    assert app_argv([]) == ["app"]
    assert app_argv(["photo.jpg", "--model", "x"]) == ["app", "photo.jpg", "--model", "x"]
    assert app_argv(["--debug", "photo.jpg"]) == ["--debug", "app", "photo.jpg"]
    assert app_argv(["--version"]) == ["--version"]


def test_the_frozen_executable_opens_the_app_on_a_double_click(tmp_path, portraits):
    photo = str(portraits["grace_hopper"])
    assert frozen_argv([]) == ["app"]
    assert frozen_argv(["-psn_0_1234567"]) == ["app"]  # macOS Finder's process serial number
    assert frozen_argv([photo]) == ["app", photo]
    assert frozen_argv(["--debug", photo]) == ["--debug", "app", photo]


def test_the_frozen_executable_keeps_every_subcommand(tmp_path, portraits):
    photo = str(portraits["grace_hopper"])
    assert frozen_argv(["screen", photo, "--json", "-"]) == ["screen", photo, "--json", "-"]
    assert frozen_argv(["--version"]) == ["--version"]
    assert frozen_argv(["models"]) == ["models"]
    (tmp_path / "screen").write_bytes(b"")  # a file named like a subcommand is still the command
    assert frozen_argv(["screen"]) == ["screen"]
    assert frozen_argv(["no-such-photo.jpg"]) == ["no-such-photo.jpg"]  # the CLI says what's wrong


def test_subcommands_come_from_the_parser():
    names = gui_entry.subcommands()
    assert {"screen", "app", "demo", "models"} <= names


def test_version_works_from_the_gui_script(capsys):
    with pytest.raises(SystemExit) as info:
        gui_entry.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dysmorph-desk {__version__}"


@pytest.mark.parametrize("entry", [gui_entry.main, gui_entry.frozen_main])
def test_no_display_is_exit_2_from_both_launchers(entry, monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert entry([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dysmorph-desk: error: the app cannot open a window: no display")


def test_a_windowed_executable_gets_null_streams(monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    gui_entry._ensure_streams()
    try:
        print("nowhere")
        print("nowhere", file=sys.stderr)
    finally:
        sys.stdout.close()
        sys.stderr.close()
