"""Help ▸ About, Third-party licences and Keyboard shortcuts.

About says which version runs and which models are installed (with their statuses, so "which
model gave this result?" has an answer in the app); the licences are the notices of the
components the app ships with, searchable; the shortcuts list is generated from the window's own
actions, so it can never disagree with what the keys do.

The version lines and the licence notices come from ``dysmorph_desk.about`` (the same text as
``dysmorph-desk --version`` and the installers' licence file).
"""

from __future__ import annotations

import logging
import sys
from html import escape

from PySide6.QtGui import QAction, QFontDatabase, QKeySequence, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk import about
from dysmorph_desk.bundles.format import find_bundles

log = logging.getLogger(__name__)
DISCLAIMER = (
    "An offline screening aid — not a diagnosis. Results must be reviewed by a qualified clinician."
)


def bundle_lines() -> list[str]:
    """One line per installed model: name, status, where it comes from, the start of its hash."""
    try:
        infos = find_bundles()
    except OSError as exc:  # an unreadable models folder: said, not raised
        return [f"The installed models could not be listed: {exc}"]
    return [
        f"{i.name} — {i.card.status_label} ({i.source}), SHA-256 {i.sha256[:12]}…" for i in infos
    ] or ["No model is installed."]


def licences_text() -> str:
    """Every third-party notice as one text, or one line saying why there is none."""
    try:
        return about.third_party_text()
    except OSError as exc:  # a damaged installation: said in the dialog, not raised
        log.warning("third-party notices unreadable: %s", exc)
        return f"The third-party licence notices could not be read: {exc}"


class AboutDialog(QDialog):
    """Version, the disclaimer and the installed models; a button to the licences."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About DysmorphDesk")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setOpenLinks(False)
        version = "<br>".join(escape(line) for line in about.version_text().splitlines())
        models = "".join(f"<li>{escape(line)}</li>" for line in bundle_lines())
        self.text.setHtml(
            f"<h2>DysmorphDesk</h2><p>{version}</p><p><b>{escape(DISCLAIMER)}</b></p>"
            f"<h3>Installed models</h3><ul>{models}</ul>"
        )
        self.licences_button = QPushButton("Third-party &licences…")
        self.licences_button.clicked.connect(self.show_licences)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.licences_button)
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)
        self.resize(620, 440)

    def show_licences(self) -> LicencesDialog:
        dialog = LicencesDialog(self)
        dialog.open()
        return dialog


class LicencesDialog(QDialog):
    """The third-party notices, read-only, with a search box (Enter: next match)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Third-party licences")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find (Enter: next match)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Find in the licences")
        self.search.returnPressed.connect(self.find_next)
        self.found = QLabel("")
        self.view = QPlainTextEdit(licences_text())
        self.view.setReadOnly(True)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setAccessibleName("Third-party licence notices")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        find = QLabel("&Find:")
        find.setBuddy(self.search)
        row.addWidget(find)
        row.addWidget(self.search, 1)
        row.addWidget(self.found)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(760, 560)

    def find_next(self) -> bool:
        """Select the next occurrence of the search text, wrapping to the top once."""
        needle = self.search.text()
        if not needle:
            self.found.setText("")
            return False
        hit = self.view.find(needle)
        if not hit:  # from the top again
            cursor = self.view.textCursor()
            cursor.movePosition(cursor.MoveOperation.Start)
            self.view.setTextCursor(cursor)
            hit = self.view.find(needle, QTextDocument.FindFlag(0))
        self.found.setText("" if hit else "not found")
        return hit


# -- keyboard shortcuts ---------------------------------------------------------------------------


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _keys(action: QAction) -> str:
    return ", ".join(
        k.toString(QKeySequence.SequenceFormat.NativeText)
        for k in action.shortcuts()
        if not k.isEmpty()
    )


def shortcut_rows(win: QMainWindow) -> list[tuple[str, str, str]]:
    """(section, action, keys) for every action of ``win`` that has a shortcut, by menu.

    Read from the menus and the window's widgets at the time of asking, not written down: a
    shortcut added, changed or removed in ``actions.py`` shows here as it is.
    """
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, section: str) -> None:
        for act in menu.actions():
            sub = act.menu()
            if isinstance(sub, QMenu):
                walk(sub, f"{section} ▸ {_plain(sub.title())}")
            elif not act.isSeparator() and _keys(act):
                rows.append((section, _plain(act.text()), _keys(act)))
                seen.add(id(act))

    for top in win.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu):
            walk(menu, _plain(menu.title()))
    for act in win.findChildren(QAction):
        owner = act.parent()
        if id(act) in seen or not _keys(act) or not act.text():
            continue
        if isinstance(owner, QWidget) and owner.window() is not win:
            continue  # another window's own keys (the guide's Back and Forward)
        where = owner.accessibleName() if isinstance(owner, QWidget) and owner is not win else ""
        rows.append((f"In the {where}" if where else "Window", _plain(act.text()), _keys(act)))
        seen.add(id(act))
    return rows


class ShortcutsDialog(QDialog):
    """The window's keyboard shortcuts, grouped by menu."""

    def __init__(self, win: QMainWindow) -> None:
        super().__init__(win)
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Shortcut"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAccessibleName("Keyboard shortcuts")
        self.rows = shortcut_rows(win)
        sections: dict[str, QTreeWidgetItem] = {}
        for section, text, keys in self.rows:
            if section not in sections:
                head = QTreeWidgetItem([section, ""])
                font = head.font(0)
                font.setBold(True)
                head.setFont(0, font)
                head.setFirstColumnSpanned(True)
                self.tree.addTopLevelItem(head)
                sections[section] = head
            sections[section].addChild(QTreeWidgetItem([text, keys]))
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        note = QLabel(
            "Alt with an underlined letter moves to that menu, tab or field."
            if sys.platform != "darwin"
            else "Menus list every shortcut beside its command."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(520, 600)
