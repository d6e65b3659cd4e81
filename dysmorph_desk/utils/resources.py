"""Package data (sample portraits, fonts, shipped bundles) found through importlib.resources.

Both ``resources/`` and ``models/`` at the top of the repository are mapped to the packages
``dysmorph_desk.assets`` and ``dysmorph_desk.bundled_models`` (see pyproject.toml), so the same
code works from a wheel and from an editable install.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

PORTRAIT_SUFFIXES = {".jpg", ".jpeg", ".png"}


def resource(*parts: str) -> Traversable:
    node = resources.files("dysmorph_desk.assets")
    for part in parts:
        node = node / part
    return node


def bundled_models() -> Traversable:
    return resources.files("dysmorph_desk.bundled_models")


@contextmanager
def as_path(node: Traversable) -> Iterator[Path]:
    """A real file path for a resource (zip-safe)."""
    with resources.as_file(node) as path:
        yield Path(path)


def sample_portraits() -> list[Traversable]:
    """The public-domain portraits the demo and the synthetic-data generator start from."""
    folder = resource("portraits")
    return sorted(
        (p for p in folder.iterdir() if Path(p.name).suffix.lower() in PORTRAIT_SUFFIXES),
        key=lambda p: p.name,
    )


def font_file(name: str) -> Traversable:
    return resource("fonts", name)
