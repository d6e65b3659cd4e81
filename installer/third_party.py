"""``THIRD_PARTY_LICENSES.txt`` for a frozen build: everything the bundle carries, with its licence.

The notices of the Python distributions and the shipped fonts and weights come from
``dysmorph_desk.about`` (run in the runtime install being frozen, so they are exactly what
PyInstaller collected from); this module adds what only the frozen bundle carries:

- the Python interpreter and standard library (its ``LICENSE.txt``);
- PyInstaller's bootloader (GPL-2.0 with an exception that allows any licence for the bundle);
- system libraries PyInstaller copied from the build machine (on Debian/Ubuntu: each file's
  package and its ``/usr/share/doc/<package>/copyright``; elsewhere the files are named);
- licence texts for distributions that name a licence but ship no text (PySide6 and shiboken6:
  LGPL-3.0, which builds on GPL-3.0; flatbuffers: Apache-2.0), from ``installer/licenses/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from dysmorph_desk.about import NO_TEXT, Notice, format_notices, notice_for, third_party_notices

LICENCE_TEXTS = Path(__file__).resolve().parent / "licenses"
# licence names as the metadata gives them -> the texts that apply (the LGPL is read with the GPL)
KNOWN_TEXTS = {
    "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "Apache 2.0": ("Apache-2.0.txt",),
    "Apache-2.0": ("Apache-2.0.txt",),
}


def with_known_text(notice: Notice) -> Notice:
    """A notice whose distribution ships no licence text gets the standard text it names."""
    if notice.text != NO_TEXT or notice.licence not in KNOWN_TEXTS:
        return notice
    texts = [
        f"--- {name} ---\n" + (LICENCE_TEXTS / name).read_text(encoding="utf-8").strip()
        for name in KNOWN_TEXTS[notice.licence]
    ]
    return Notice(notice.name, notice.version, notice.licence, "\n\n".join(texts))


def python_notice() -> Notice:
    candidates = [
        Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt",
        Path(sys.base_prefix) / "LICENSE.txt",
    ]
    path = next((p for p in candidates if p.is_file()), None)
    text = path.read_text(encoding="utf-8", errors="replace").strip() if path else NO_TEXT
    version = ".".join(map(str, sys.version_info[:3]))
    return Notice("Python", version, "PSF-2.0", text)


def pyinstaller_notice() -> Notice:
    n = notice_for(metadata.distribution("pyinstaller"))
    return Notice(
        "PyInstaller bootloader", n.version, "GPL-2.0-or-later WITH Bootloader-exception", n.text
    )


def system_libraries(internal: Path) -> list[Path]:
    """Shared libraries in the bundle's top folder that no Python distribution shipped (real
    files; PyInstaller puts its symlinks to the packages' own libraries there too)."""
    shipped: set[str] = set()
    for dist in metadata.distributions():
        shipped.update(Path(str(f)).name for f in dist.files or [])
    return sorted(
        p
        for p in internal.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and (".so" in p.name or p.suffix.lower() == ".dll" or p.suffix == ".dylib")
        and p.name not in shipped
        and not p.name.startswith("libpython")
    )


def debian_notices(libraries: list[Path]) -> tuple[list[Notice], list[Path]]:
    """One notice per Debian package that provided some of ``libraries`` (copyright file as its
    text), and the libraries no package owns."""
    if not libraries or shutil.which("dpkg") is None:
        return [], libraries
    proc = subprocess.run(
        ["dpkg", "-S", *(p.name for p in libraries)], capture_output=True, text=True, check=False
    )
    owners: dict[str, set[str]] = {}
    for line in proc.stdout.splitlines():
        package, _, path = line.partition(": ")
        owners.setdefault(Path(path.strip()).name, set()).add(package.split(":")[0])
    by_package: dict[str, list[str]] = {}
    unowned = []
    for lib in libraries:
        packages = owners.get(lib.name)
        if not packages:
            unowned.append(lib)
            continue
        by_package.setdefault(sorted(packages)[0], []).append(lib.name)
    notices = []
    for package, names in sorted(by_package.items()):
        version = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        text = (
            copyright_file.read_text(encoding="utf-8", errors="replace").strip()
            if copyright_file.is_file()
            else NO_TEXT
        )
        notices.append(
            Notice(
                f"{package} (system library: {', '.join(names)})",
                version or "?",
                "see the Debian copyright file below",
                text,
            )
        )
    return notices, unowned


def bundle_notices(internal: Path) -> list[Notice]:
    """Every notice of a frozen bundle whose ``_internal`` folder is ``internal``."""
    notices = [with_known_text(n) for n in third_party_notices()]
    notices += [python_notice(), pyinstaller_notice()]
    libraries = system_libraries(internal) if internal.is_dir() else []
    debian, unowned = debian_notices(libraries)
    notices += debian
    if unowned:
        notices.append(
            Notice(
                "Other libraries copied from the build system",
                "-",
                "as published by their authors (licence not recorded by this build)",
                "\n".join(p.name for p in unowned),
            )
        )
    return notices


def write_licences(path: Path, internal: Path) -> int:
    """Write ``THIRD_PARTY_LICENSES.txt`` (atomically) and return the number of components."""
    notices = bundle_notices(internal)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(format_notices(notices), encoding="utf-8")
    tmp.replace(path)
    return len(notices)
