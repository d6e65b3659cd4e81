"""The offline user guide shipped with the package: find its HTML pages.

The guide is HTML built at development time from ``docs/guide/*.md`` and the shipped model cards
(``scripts/build_guide.py``) into ``resources/guide/``, which ships as the package data
``dysmorph_desk.assets`` (see pyproject.toml). The app shows it with Qt's ``QTextBrowser``: no web
engine, no network. This module only locates the files — no Qt, no Markdown — so the GUI, the CLI
and the tests share one answer to "where is page X?".

The pages link to each other, to a shared style sheet and to images by relative paths, so a viewer
needs a real file path: one inside an editable checkout, a wheel install or a PyInstaller bundle
(which unpacks its data files). A package imported from a zip archive has no such path; the guide
then raises ``GuideNotFound`` rather than extracting files anywhere.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from dysmorph_desk.errors import UsageError

GUIDE_FOLDER = "guide"  # under resources/ (the package ``dysmorph_desk.assets``)
INDEX = "index"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class GuideNotFound(UsageError):
    """No such guide page, or the guide is not installed as files (exit status 2)."""


def guide_dir() -> Path:
    """The folder holding the guide's HTML pages, ``guide.css`` and ``images/``.

    Raises:
        GuideNotFound: the package data is not on the file system, or has no built guide.
    """
    node = resources.files("dysmorph_desk.assets") / GUIDE_FOLDER
    if not isinstance(node, Path):
        raise GuideNotFound(
            "the user guide needs DysmorphDesk installed as files (not imported from a zip archive)"
        )
    if not (node / f"{INDEX}.html").is_file():
        raise GuideNotFound(
            f"the user guide is not installed ({node} has no {INDEX}.html); "
            "build it with `python scripts/build_guide.py`"
        )
    return node


def guide_pages() -> list[str]:
    """The names of every page, contents first, then the others by name.

    Example:
        >>> "photos" in guide_pages()  # doctest: +SKIP
        True
    """
    names = sorted(p.stem for p in guide_dir().glob("*.html") if _NAME.fullmatch(p.stem))
    return [INDEX, *(n for n in names if n != INDEX)]


def guide_page(name: str = INDEX) -> Path:
    """The HTML file of one page of the user guide, to show with ``QTextBrowser.setSource``.

    Args:
        name: the page's name without ``.html``: ``index`` (contents), ``photos``, ``results``,
            ``heatmaps``, ``statuses``, ``privacy``, ``models``, or ``model-<bundle>`` for a
            shipped bundle's page (``guide_pages()`` lists them all).

    Returns:
        The absolute path of the page; its links, style sheet and images are relative to it.

    Raises:
        GuideNotFound: no page by that name (the message lists the pages), or no guide installed.

    Example:
        >>> from PySide6.QtCore import QUrl  # doctest: +SKIP
        >>> browser.setSource(QUrl.fromLocalFile(str(guide_page("results"))))  # doctest: +SKIP
    """
    key = str(name).strip().lower().removesuffix(".html")
    pages = guide_pages()
    if not _NAME.fullmatch(key) or key not in pages:
        shown = str(name)[:40].encode("ascii", "backslashreplace").decode("ascii")
        raise GuideNotFound(f"no user guide page {shown!r} (pages: {', '.join(pages)})")
    return guide_dir() / f"{key}.html"
