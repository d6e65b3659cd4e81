"""The clinician's HPO terms for the case: search-as-you-type, and the chosen terms with labels.

The search itself runs in the engine process (the ontology is never loaded in the GUI process):
typing starts a 150 ms timer, and only when the clinician pauses is ``search_requested`` emitted;
the panel sends the search and hands the hits back through :meth:`HpoTermEntry.show_hits`, which
drops hits for text no longer in the box. Nothing here blocks the UI thread.

Keys: Down moves from the box into the suggestions; Enter adds the highlighted suggestion (from
the box: the first); Esc goes back to the box; Delete removes the selected chosen term.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.engine.protocol import TermHit

DEBOUNCE_MS = 150
MAX_TERMS = 100  # more than any clinician enters; keeps the request and the report bounded
ID_ROLE = Qt.ItemDataRole.UserRole


def term_text(term_id: str, label: str) -> str:
    """A chosen term as listed: id and label."""
    return f"{term_id}  {label}"


def hit_text(hit: TermHit) -> str:
    """A suggestion: the term's name and id, and the synonym that matched when it was one."""
    text = f"{hit.name}  ({hit.id})"
    if hit.synonym and hit.matched.casefold() != hit.name.casefold():
        text += f" — matched “{hit.matched}”"
    return text


class HpoTermEntry(QWidget):
    """The search box, its suggestions (hidden while there are none) and the chosen terms."""

    search_requested = Signal(str)  # the text to search (debounced)
    terms_changed = Signal()  # a term added, removed or cleared by the user

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("HPO phenotype terms")
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(
            "Type a feature or an HPO id, e.g. wide-set eyes or HP:0000316"
        )
        self.edit.setAccessibleName("Search HPO terms")
        self.edit.setClearButtonEnabled(True)
        self.edit.textEdited.connect(self._edited)
        self.edit.returnPressed.connect(self._return_in_box)
        self.edit.installEventFilter(self)
        self.suggestions = QListWidget()
        self.suggestions.setAccessibleName("Matching HPO terms")
        self.suggestions.setMaximumHeight(120)
        self.suggestions.setVisible(False)
        self.suggestions.itemActivated.connect(self._add_item)
        self.suggestions.installEventFilter(self)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.hint.setVisible(False)
        self.terms = QListWidget()
        self.terms.setAccessibleName("Chosen HPO terms")
        self.terms.setMaximumHeight(80)
        self.terms.installEventFilter(self)
        self.terms.itemSelectionChanged.connect(self._selection_changed)
        self.remove_button = QPushButton("Remove term")
        self.remove_button.setToolTip("Remove the selected term (Delete)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear terms")
        self.clear_button.setToolTip("Remove every term of this case")
        self.clear_button.clicked.connect(lambda: self.clear_terms(user=True))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._search_now)
        self._hits_for: str | None = None  # the text the suggestions answer
        self._add_on_arrival = False  # Enter was pressed before the hits for this text came
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addWidget(self.suggestions)
        layout.addWidget(self.hint)
        row = QHBoxLayout()
        row.addWidget(self.terms, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)
        self._selection_changed()

    # -- the chosen terms --------------------------------------------------------------------------

    def term_ids(self) -> list[str]:
        return [str(self.terms.item(i).data(ID_ROLE)) for i in range(self.terms.count())]

    def add_term(self, term_id: str, label: str) -> bool:
        """Add a term (once); False if it was already chosen or the list is full."""
        if term_id in self.term_ids():
            self._say(f"{term_id} is already chosen.")
            return False
        if self.terms.count() >= MAX_TERMS:
            self._say(f"At most {MAX_TERMS} terms.")
            return False
        item = QListWidgetItem(term_text(term_id, label))
        item.setData(ID_ROLE, term_id)
        item.setToolTip(f"{label} ({term_id}). Delete removes it.")
        self.terms.addItem(item)
        self._say("")
        self._selection_changed()
        self.terms_changed.emit()
        return True

    def remove_selected(self) -> None:
        rows = sorted((self.terms.row(i) for i in self.terms.selectedItems()), reverse=True)
        for row in rows:
            self.terms.takeItem(row)
        if rows:
            self._selection_changed()
            self.terms_changed.emit()

    def clear_terms(self, user: bool = False) -> None:
        """Remove every term (``user``: the Clear button, which re-ranks; otherwise a new case)."""
        had = self.terms.count() > 0
        self.terms.clear()
        self.edit.clear()
        self._timer.stop()
        self._show([])
        self._hits_for, self._add_on_arrival = None, False
        self._say("")
        self._selection_changed()
        if had and user:
            self.terms_changed.emit()

    def _selection_changed(self) -> None:
        self.remove_button.setEnabled(bool(self.terms.selectedItems()))
        self.clear_button.setEnabled(self.terms.count() > 0)

    # -- search ------------------------------------------------------------------------------------

    def _edited(self, text: str) -> None:
        self._add_on_arrival = False
        if text.strip():
            self._timer.start()  # restarts: only a pause in typing searches
        else:
            self._timer.stop()
            self._show([])
            self._say("")

    def _search_now(self) -> None:
        self._timer.stop()
        text = self.edit.text().strip()
        if text:
            self.search_requested.emit(text)

    def show_hits(self, text: str, hits: list[TermHit]) -> None:
        """The engine's answer for ``text``; ignored if the box no longer holds that text."""
        if text != self.edit.text().strip():
            return
        self._hits_for = text
        self._show(hits)
        self._say("" if hits else f"No HPO term matches “{text}”.")
        if self._add_on_arrival and hits:
            self._add_on_arrival = False
            self._add_hit(hits[0])

    def show_error(self, text: str, message: str) -> None:
        """A search the engine refused (e.g. nothing but punctuation): said under the box."""
        if text == self.edit.text().strip():
            self._show([])
            self._say(message[:1].upper() + message[1:] + ".")

    def _show(self, hits: list[TermHit]) -> None:
        self.suggestions.clear()
        for hit in hits:
            item = QListWidgetItem(hit_text(hit))
            item.setData(ID_ROLE, hit)
            self.suggestions.addItem(item)
        self.suggestions.setVisible(bool(hits))
        if hits:
            self.suggestions.setCurrentRow(0)

    def _say(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def _add_item(self, item: QListWidgetItem) -> None:
        self._add_hit(item.data(ID_ROLE))

    def _add_hit(self, hit: TermHit) -> None:
        if self.add_term(hit.id, hit.name):
            self.edit.clear()
            self._show([])
            self._hits_for = None
        self.edit.setFocus()

    def _return_in_box(self) -> None:
        text = self.edit.text().strip()
        if not text:
            return
        if self._hits_for == text and self.suggestions.count():
            item = self.suggestions.currentItem() or self.suggestions.item(0)
            self._add_item(item)
        else:  # the hits for this text are not here yet: search now, add the first on arrival
            self._add_on_arrival = True
            self._search_now()

    # -- keys --------------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        key = event.key()
        if watched is self.edit and key == Qt.Key.Key_Down and self.suggestions.isVisible():
            self.suggestions.setFocus()
            if self.suggestions.currentRow() < 0:
                self.suggestions.setCurrentRow(0)
            return True
        if watched is self.suggestions and key == Qt.Key.Key_Escape:
            self.edit.setFocus()
            return True
        if watched is self.terms and key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.remove_selected()
            return True
        return super().eventFilter(watched, event)
