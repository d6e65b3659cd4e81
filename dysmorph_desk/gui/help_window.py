"""Help ▸ User guide: the guide's local HTML pages in a plain ``QTextBrowser`` window.

No web engine and no network: the browser follows only links to the guide's own files (relative
links between its pages, anchors within a page) and loads only images from the guide's folder.
Any other link (http, mailto, a file elsewhere) is refused with a line under the page, so a page
can never make the app reach out. Back, forward and home work like a browser's.

The pages come from ``dysmorph_desk.userguide.guide_page(name)``; an installation without the
built guide says so (one message) instead of failing. ``help_link`` makes the small "?" links
that open the page about what they sit next to (heatmaps, models, …).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.utils.inputs import is_inside

log = logging.getLogger(__name__)
HOME = "index"


class GuideUnavailable(Exception):
    """The guide (or the page asked for) cannot be shown; the message says why, in one line."""


def guide_path(page: str = HOME) -> Path:
    """The local HTML file of guide page ``page`` (``userguide.guide_page``), or
    ``GuideUnavailable`` with the guide's own reason (no such page, guide not installed)."""
    from dysmorph_desk.userguide import GuideNotFound, guide_page

    try:
        path = Path(guide_page(page))
    except GuideNotFound as exc:
        raise GuideUnavailable(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
    if not path.is_file():
        raise GuideUnavailable(f"The guide's page {page!r} is missing ({path.name}).")
    return path


class GuideBrowser(QTextBrowser):
    """A text browser that loads nothing from outside ``root`` (no network, no other files)."""

    def __init__(self, root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self.setOpenLinks(False)  # every click goes through GuideWindow.follow
        self.setOpenExternalLinks(False)
        self.refused: list[str] = []  # resources it would not load, each once (tests, the log)

    def _guide_file(self, url: QUrl) -> Path | None:
        """The path ``url`` (relative to the page shown) names inside the guide's folder."""
        resolved = self.source().resolved(url) if url.isRelative() else url
        if not resolved.isLocalFile():
            return None
        path = Path(resolved.toLocalFile())
        return path if is_inside(path, self.root) else None

    def local_target(self, url: QUrl) -> Path | None:
        """The existing guide file ``url`` names, or None if it is not one."""
        path = self._guide_file(url)
        return path if path is not None and path.is_file() else None

    def loadResource(self, kind: int, name: QUrl | str):
        url = QUrl(name)
        if self._guide_file(url) is None:  # a missing file of the guide is simply not shown
            text = url.toString()
            if text not in self.refused:
                self.refused.append(text)
                log.info("guide: refused to load %s", text)
            return None
        return super().loadResource(kind, url)


class GuideWindow(QMainWindow):
    """The user guide: a browser over its pages with back, forward and home."""

    def __init__(self, home: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DysmorphDesk user guide")
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.home = home
        self.browser = GuideBrowser(home.parent)
        self.browser.setAccessibleName("User guide page")
        self.browser.anchorClicked.connect(self.follow)
        self.notice = QLabel("")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #8A4B00;")
        self.notice.setVisible(False)
        bar = QToolBar("Guide", self)
        bar.setObjectName("guide-toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.back = self._action(bar, "&Back", QKeySequence.StandardKey.Back, self.browser.backward)
        self.forward = self._action(
            bar, "&Forward", QKeySequence.StandardKey.Forward, self.browser.forward
        )
        self.home_action = self._action(bar, "&Contents", "Alt+Home", self.go_home)
        self.browser.backwardAvailable.connect(self.back.setEnabled)
        self.browser.forwardAvailable.connect(self.forward.setEnabled)
        self.back.setEnabled(False)
        self.forward.setEnabled(False)
        self.addToolBar(bar)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.notice)
        self.setCentralWidget(central)
        self.resize(820, 680)
        self.show_file(home)

    def _action(self, bar: QToolBar, text: str, keys, slot: Callable[[], None]) -> QAction:
        act = QAction(text, self)
        act.setShortcut(QKeySequence(keys))
        key = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        act.setToolTip(f"{text.replace('&', '')} ({key})" if key else text.replace("&", ""))
        act.triggered.connect(lambda _checked=False: slot())
        bar.addAction(act)
        return act

    def show_file(self, path: Path) -> None:
        self.notice.setVisible(False)
        self.browser.setSource(QUrl.fromLocalFile(str(path)))

    def go_home(self) -> None:
        self.show_file(self.home)

    def current_file(self) -> Path | None:
        src = self.browser.source()
        return Path(src.toLocalFile()) if src.isLocalFile() else None

    def follow(self, url: QUrl) -> None:
        """A clicked link: a guide page (or an anchor on this one) opens; anything else does not."""
        if url.isRelative() and not url.path() and url.hasFragment():
            self.browser.scrollToAnchor(url.fragment())
            return
        target = self.browser.local_target(url)
        if target is None or target.suffix.lower() not in (".html", ".htm"):
            self.notice.setText(
                f"Not opened: {url.toString()} — the guide opens only its own pages "
                "and never goes online."
            )
            self.notice.setVisible(True)
            return
        self.notice.setVisible(False)
        resolved = QUrl.fromLocalFile(str(target))
        if url.hasFragment():
            resolved.setFragment(url.fragment())
        self.browser.setSource(resolved)


def help_link(page: str, text: str = "?", tip: str = "") -> QLabel:
    """A small link that opens guide page ``page`` through the nearest window's ``open_guide``."""
    label = QLabel(f"<a href='guide:{escape(page)}'>{escape(text)}</a>")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
    label.setToolTip(tip or f"Open the user guide's page on {page} (F1: the guide's contents)")
    label.setAccessibleName(f"Help: {text if text != '?' else page}")
    label.setProperty("guide_page", page)

    def activate(_href: str) -> None:
        widget: QWidget | None = label
        while widget is not None:
            opener = getattr(widget, "open_guide", None)
            if callable(opener):
                opener(page)
                return
            widget = widget.parentWidget()
        log.warning("help link %r has no window with a guide", page)

    label.linkActivated.connect(activate)
    return label


def show_guide(
    parent: QWidget, page: str, dialogs, existing: GuideWindow | None = None
) -> GuideWindow | None:
    """Show guide page ``page`` in ``existing`` (or a new guide window); say why if it cannot.

    A missing page falls back to the contents with a line saying so; a missing guide is one
    message through ``dialogs`` and no window.
    """
    try:
        home = guide_path(HOME)
    except GuideUnavailable as exc:
        dialogs.info(parent, "User guide", str(exc))
        return existing
    try:
        target, problem = guide_path(page), ""
    except GuideUnavailable as exc:
        target, problem = home, str(exc)
    window = existing if existing is not None and existing.home == home else None
    if window is None:
        window = GuideWindow(home, parent)
    window.show_file(target)
    if problem:
        window.notice.setText(f"{problem} Showing the contents instead.")
        window.notice.setVisible(True)
    window.show()
    window.raise_()
    window.activateWindow()
    return window
