"""The Linux archive's launcher files, staged beside the frozen folder before it is packed.

Layout of ``DysmorphDesk-<version>-linux-<arch>.tar.gz``::

    DysmorphDesk-<version>-linux-x86_64/
        install.sh                        installs for the user (no root), --uninstall removes
        README.txt
        DysmorphDesk/                     the frozen program (runs from here too)
        share/applications/<id>.desktop
        share/metainfo/<id>.metainfo.xml
        share/icons/hicolor/<N>x<N>/apps/<id>.png  (16 ... 512) and scalable/apps/<id>.svg
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINUX = HERE / "linux"

README = """DysmorphDesk {version} for Linux (x86-64)
======================================

An offline screening aid, not a diagnosis: every result must be reviewed by a qualified clinician.

Install for your user (no administrator rights needed):

    ./install.sh

then open DysmorphDesk from the applications menu, or run ~/.local/bin/dysmorph-desk.
Remove it with ./install.sh --uninstall.

It also runs without installing: ./DysmorphDesk/dysmorph-desk (opens the app), or
./DysmorphDesk/dysmorph-desk screen PHOTO --report report.pdf on the command line.

The program carries its own Python and libraries, including the X11 libraries Qt needs. It uses the
system's OpenGL, C++ runtime, D-Bus and CUPS (printing) libraries, which every desktop has. If the
app cannot open a window it says which libraries or display are missing and how to install them.

Licences of everything it carries: DysmorphDesk/THIRD_PARTY_LICENSES.txt.
"""


def release_date() -> str:
    """The build date (UTC), or ``SOURCE_DATE_EPOCH``'s for a reproducible build."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return when.strftime("%Y-%m-%d")


def render_metainfo(template: str, version: str, date: str) -> str:
    release_type = "development" if version.startswith("0.") else "stable"
    return (
        template.replace("@VERSION@", version)
        .replace("@RELEASE_TYPE@", release_type)
        .replace("@DATE@", date)
    )


def stage_linux(stage: Path, icons: Path, version: str, app_id: str) -> Path:
    """Write the launcher files into ``stage`` (emptied first) and return it.

    Args:
        stage: the folder to fill.
        icons: the rendered icons (``<N>x<N>.png`` and ``dysmorph-desk.svg``).
        version: the package version (metainfo release).
        app_id: the desktop ID (file names of the .desktop, metainfo and icons).
    """
    if stage.exists():
        shutil.rmtree(stage)
    share = stage / "share"
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir()
    shutil.copy2(LINUX / f"{app_id}.desktop", share / "applications" / f"{app_id}.desktop")
    template = (LINUX / f"{app_id}.metainfo.xml").read_text(encoding="utf-8")
    (share / "metainfo" / f"{app_id}.metainfo.xml").write_text(
        render_metainfo(template, version, release_date()), encoding="utf-8"
    )
    for png in sorted(icons.glob("*x*.png")):
        target = share / "icons" / "hicolor" / png.stem / "apps"
        target.mkdir(parents=True)
        shutil.copy2(png, target / f"{app_id}.png")
    scalable = share / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy2(icons / "dysmorph-desk.svg", scalable / f"{app_id}.svg")
    shutil.copy2(LINUX / "install.sh", stage / "install.sh")
    (stage / "install.sh").chmod(0o755)
    (stage / "README.txt").write_text(README.format(version=version), encoding="utf-8")
    return stage
