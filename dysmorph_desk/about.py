"""What this copy of DysmorphDesk is, and the licences of everything it runs on (no Qt).

The app's About box shows :func:`version_text`; its licences dialog shows :func:`third_party_text`
or lists :func:`third_party_notices`. In a pip install the notices come from the metadata of the
installed distributions DysmorphDesk depends on (recursively, extras left out: the runtime, not the
training tools) plus the fonts and face-detector weights shipped in ``resources/``. A frozen build
(the installers) has no distribution metadata: ``installer/build.py`` writes the same notices, and
those of what only the bundle carries (Python, system libraries), to ``THIRD_PARTY_LICENSES.txt``
beside the executable, and this module reads that file instead.

Example:
    >>> from dysmorph_desk import about
    >>> about.version_text().splitlines()[0]  # doctest: +SKIP
    'DysmorphDesk 0.1.0'
"""

from __future__ import annotations

import logging
import platform
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from dysmorph_desk import __version__

log = logging.getLogger(__name__)

LICENCE_FILE = "THIRD_PARTY_LICENSES.txt"
DISTRIBUTION = "dysmorph-desk"
RULE = "=" * 78
INDENT = "    "
NO_TEXT = "(this distribution ships no licence text; see the licence named above)"
_LICENCE_NAMES = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|COPYRIGHT|THIRDPARTYNOTICES)", re.I)
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Notice:
    """One third-party component: its name, version, licence (SPDX expression or the name its
    metadata gives) and the licence text(s) it ships."""

    name: str
    version: str
    licence: str
    text: str


# Shipped in resources/ (see resources/fonts/LICENSES.md and resources/mtcnn/LICENSE.md):
# name, version, licence, licence files under resources/.
_ASSETS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "DejaVu Sans fonts",
        "2.37",
        "Bitstream-Vera AND LicenseRef-Public-Domain",
        ("fonts/LICENSE-DejaVu.txt",),
    ),
    ("Droid Sans Fallback font", "6.0.1r16", "Apache-2.0", ("fonts/LICENSE-Apache-2.0.txt",)),
    ("MTCNN face-detector weights (facenet-pytorch)", "2.5.3", "MIT", ("mtcnn/LICENSE.md",)),
)


def is_frozen() -> bool:
    """Whether this is an installer's frozen build (PyInstaller sets ``sys.frozen``)."""
    return bool(getattr(sys, "frozen", False))


def version_text() -> str:
    """Version, Python and platform, one per line, for the About box and bug reports.

    Example:
        DysmorphDesk 0.1.0 (installed build)
        Python 3.11.7 (CPython)
        Linux-6.1.0-x86_64-with-glibc2.36
    """
    build = " (installed build)" if is_frozen() else ""
    return "\n".join(
        (
            f"DysmorphDesk {__version__}{build}",
            f"Python {platform.python_version()} ({platform.python_implementation()})",
            platform.platform(),
        )
    )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    """The names a distribution requires, extras left out (``; extra == "train"``)."""
    names = []
    for requirement in dist.requires or []:
        spec, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        match = _REQUIREMENT_NAME.match(spec)
        if match:
            names.append(match.group(1))
    return names


def runtime_distributions(root: str = DISTRIBUTION) -> list[metadata.Distribution]:
    """The installed distributions ``root`` depends on, recursively, sorted by name.

    A requirement that is not installed (another platform's marker) is skipped: only what this
    runtime actually carries is listed.
    """
    seen: dict[str, metadata.Distribution] = {}
    try:
        pending = _requirement_names(metadata.distribution(root))
    except metadata.PackageNotFoundError:
        return []
    while pending:
        name = _canonical(pending.pop())
        if name in seen or name == _canonical(root):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        pending.extend(_requirement_names(dist))
    return sorted(seen.values(), key=lambda d: _canonical(d.metadata["Name"]))


def _field(meta: Any, key: str) -> str:
    """A metadata field, stripped; "" when absent (``PackageMetadata`` is an email message)."""
    return str(meta.get(key) or "").strip()


def _licence_name(meta: Any) -> str:
    """SPDX ``License-Expression``, else a short ``License`` field, else the classifiers."""
    expression = _field(meta, "License-Expression")
    if expression:
        return expression
    field = _field(meta, "License")
    if field and "\n" not in field and len(field) <= 100:
        return field
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    if classifiers:
        return " / ".join(classifiers)
    return field.splitlines()[0][:100] if field else "unknown"


def _licence_files(dist: metadata.Distribution) -> list[str]:
    """Licence files in the distribution: its dist-info folder first, then its own top-level
    package folders (onnxruntime keeps ``LICENSE`` and ``ThirdPartyNotices.txt`` there)."""
    in_info, in_package = [], []
    for file in dist.files or []:
        parts = file.parts
        if not _LICENCE_NAMES.match(Path(file.name).stem.replace("-", "").replace("_", "")):
            continue
        if parts[0].endswith(".dist-info"):
            in_info.append(str(file))
        elif len(parts) == 2:
            in_package.append(str(file))
    return in_info or in_package


def _read(dist: metadata.Distribution, relative: str) -> str | None:
    try:
        path = Path(str(dist.locate_file(relative)))
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def notice_for(dist: metadata.Distribution) -> Notice:
    """The notice of one installed distribution (licence texts concatenated, file names as
    headings)."""
    meta = dist.metadata
    texts = []
    for relative in _licence_files(dist):
        text = _read(dist, relative)
        if text and text.strip():
            texts.append(f"--- {Path(relative).name} ---\n{text.strip()}")
    long_field = _field(meta, "License")
    if not texts and "\n" in long_field:  # some put the whole licence in the License field
        texts.append(long_field)
    return Notice(
        name=meta["Name"],
        version=meta["Version"],
        licence=_licence_name(meta),
        text="\n\n".join(texts) or NO_TEXT,
    )


def asset_notices() -> list[Notice]:
    """The fonts and face-detector weights shipped in ``resources/``, with their licence files."""
    from dysmorph_desk.utils.resources import resource

    notices = []
    for name, version, licence, files in _ASSETS:
        texts = []
        for relative in files:
            node = resource(*relative.split("/"))
            if node.is_file():
                texts.append(node.read_bytes().decode("utf-8", errors="replace").strip())
        notices.append(Notice(name, version, licence, "\n\n".join(texts) or NO_TEXT))
    return notices


def format_notices(notices: list[Notice]) -> str:
    """The text of ``THIRD_PARTY_LICENSES.txt``: one block per notice, the licence text indented
    so that :func:`parse_notices` reads it back unambiguously."""
    blocks = [
        f"Third-party software and data in DysmorphDesk {__version__} ({len(notices)} components)\n"
    ]
    for n in notices:
        body = "\n".join(INDENT + line if line else "" for line in n.text.splitlines())
        blocks.append(
            f"{RULE}\nName: {n.name}\nVersion: {n.version}\nLicence: {n.licence}\n\n{body}\n"
        )
    return "\n".join(blocks)


def parse_notices(text: str) -> list[Notice]:
    """The notices of a file written by :func:`format_notices`."""
    notices = []
    for block in text.split("\n" + RULE + "\n")[1:]:
        head, _, body = block.partition("\n\n")
        fields = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
        lines = [line.removeprefix(INDENT) for line in body.rstrip("\n").splitlines()]
        notices.append(
            Notice(
                fields.get("Name", "?"),
                fields.get("Version", "?"),
                fields.get("Licence", "?"),
                "\n".join(lines),
            )
        )
    return notices


def frozen_licence_file() -> Path | None:
    """``THIRD_PARTY_LICENSES.txt`` of a frozen build: beside the executable, in the bundle's
    internal folder, or in a macOS app's ``Contents/Resources``."""
    exe_dir = Path(sys.executable).resolve().parent
    candidates = [exe_dir / LICENCE_FILE, exe_dir.parent / "Resources" / LICENCE_FILE]
    base = getattr(sys, "_MEIPASS", None)
    if base:
        candidates.append(Path(base) / LICENCE_FILE)
    return next((p for p in candidates if p.is_file()), None)


def third_party_notices() -> list[Notice]:
    """Every third-party component this copy runs on, with its licence text.

    A pip install: the installed runtime dependencies of dysmorph-desk (recursively) and the
    shipped fonts and weights. A frozen build: the notices of its ``THIRD_PARTY_LICENSES.txt``
    (empty, with a warning in the log, if that file is missing).
    """
    if is_frozen():
        path = frozen_licence_file()
        if path is None:
            log.warning("%s is missing from this installation", LICENCE_FILE)
            return []
        return parse_notices(path.read_text(encoding="utf-8", errors="replace"))
    return [notice_for(d) for d in runtime_distributions()] + asset_notices()


def third_party_text() -> str:
    """All third-party licences as one text, for the licences dialog (never raises)."""
    if is_frozen():
        path = frozen_licence_file()
        if path is None:
            return (
                f"{LICENCE_FILE} is missing from this installation "
                f"(expected beside {Path(sys.executable).name}); reinstall DysmorphDesk."
            )
        return path.read_text(encoding="utf-8", errors="replace")
    return format_notices(third_party_notices())
