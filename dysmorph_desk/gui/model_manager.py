"""The model manager: installed bundles with status, classes and validation; import a bundle file
(verified by the engine: hash and shapes, refused with the reason); view a card; choose which
models run.

The validation column is written by the report's helpers (``gui.card_text``): every rate with its
95 % interval and number of children. Long cells wrap instead of widening the table, so the dialog
fits a 1280×800 screen without sideways scrolling.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.bundles.format import (
    BUNDLE_SUFFIX,
    BundleInfo,
    find_bundles,
    read_header,
    safe_file_name,
)
from dysmorph_desk.engine import protocol as p
from dysmorph_desk.errors import BundleError
from dysmorph_desk.gui.card_text import card_html, validation_text
from dysmorph_desk.gui.help_window import GuideUnavailable, guide_path, help_link
from dysmorph_desk.gui.qtutil import icon
from dysmorph_desk.screening.results import CaseInfo
from dysmorph_desk.utils import paths

if TYPE_CHECKING:
    from dysmorph_desk.gui.dialogs import Dialogs
    from dysmorph_desk.gui.engine import EngineBase

log = logging.getLogger(__name__)
COLUMNS = ("Use", "Name", "Status", "Classes", "Validation", "Source")
# How the columns share the width: the short ones as wide as their text, status and classes at
# most WRAP_WIDTH (wrapped beyond), the validation whatever is left.
_FIT = QHeaderView.ResizeMode.ResizeToContents
_WRAP = QHeaderView.ResizeMode.Interactive
COLUMN_MODES = (_FIT, _FIT, _WRAP, _WRAP, QHeaderView.ResizeMode.Stretch, _FIT)
WRAP_WIDTH = 190
PREFERRED_SIZE = QSize(1120, 620)


def initial_size(available: QSize) -> QSize:
    """The dialog's size on a screen with ``available`` room: as preferred, never beyond it."""
    return QSize(
        min(PREFERRED_SIZE.width(), available.width() - 40),
        min(PREFERRED_SIZE.height(), available.height() - 60),
    )


def classes_text(card: ModelCard) -> str:
    """The Classes cell: every class of a small model; of a many-class one (a gallery encoder's
    20 syndromes) the first few and how many more, so that one row does not fill the dialog (the
    row's tooltip, the card, lists them all)."""
    from dysmorph_desk.report.formatting import SHOWN_CLASSES, many_classes

    names = [c.display_name for c in card.classes]
    if not many_classes(len(names)):
        return ", ".join(names)
    return (
        f"{len(names)} classes: "
        + ", ".join(names[:SHOWN_CLASSES])
        + f" and {len(names) - SHOWN_CLASSES} more"
    )


def guide_page_of(info: BundleInfo) -> str | None:
    """The user guide's page about bundle ``info`` (``model-<file stem>``), if it has one."""
    page = "model-" + safe_file_name(info.path.stem).lower()
    try:
        guide_path(page)
    except GuideUnavailable:
        return None
    return page


class CardDialog(QDialog):
    def __init__(
        self, info: BundleInfo, case: CaseInfo | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model card — {info.name}")
        self.browser = browser = QTextBrowser()
        browser.setOpenExternalLinks(False)
        browser.setHtml(
            card_html(info.card, info.sha256, case)
            + f"<p>File: {escape(info.path.name)} ({escape(info.source)})</p>"
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        page = guide_page_of(info)
        if page is not None:  # the shipped models have a page of their own
            row.addWidget(help_link(page, "This model in the user guide"))
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(browser)
        layout.addLayout(row)
        self.resize(620, 520)


class ModelManager(QDialog):
    selection_changed = Signal(list)  # bundle names chosen to run
    bundles_changed = Signal()

    def __init__(
        self,
        engine: EngineBase,
        dialogs: Dialogs,
        selected: list[str],
        parent: QWidget | None = None,
        case: CaseInfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.engine = engine
        self.dialogs = dialogs
        self.case = case  # the patient on screen: cards show the validation in their group
        self._selected = list(selected)
        self._import_id: int | None = None
        self.infos: list[BundleInfo] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for column, mode in enumerate(COLUMN_MODES):
            header.setSectionResizeMode(column, mode)
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setAccessibleName("Installed models")
        self.table.doubleClicked.connect(self.view_card)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        import_button = QPushButton(icon("open"), "&Import bundle…")
        import_button.setToolTip("Install a .ddbundle file (its SHA-256 is verified first)")
        import_button.clicked.connect(lambda: self.import_bundle())
        card_button = QPushButton(icon("info"), "View &card")
        card_button.setToolTip(
            "Show the selected model's card: intended use, training data, validation"
        )
        card_button.clicked.connect(self.view_card)
        row = QHBoxLayout()
        row.addWidget(import_button)
        row.addWidget(card_button)
        row.addStretch(1)
        row.addWidget(help_link("models", "About models"))
        row.addWidget(help_link("statuses", "What the statuses mean"))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use checked models")
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Check the models that screen each photo; checking two or more lets you compare "
            "their heatmaps side by side. Hover a row for its model card."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        screen = (parent.screen() if parent is not None else None) or (
            QGuiApplication.primaryScreen()
        )
        self.resize(initial_size(screen.availableGeometry().size()) if screen else PREFERRED_SIZE)
        engine.replied.connect(self._on_reply)
        self.refresh()

    def refresh(self) -> None:
        self.infos = find_bundles()
        self.table.setRowCount(len(self.infos))
        for r, info in enumerate(self.infos):
            use = QTableWidgetItem()
            use.setFlags(
                Qt.ItemFlag.ItemIsUserCheckable
                | Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
            )
            use.setCheckState(
                Qt.CheckState.Checked if info.name in self._selected else Qt.CheckState.Unchecked
            )
            use.setToolTip("Run this model on each photo")
            self.table.setItem(r, 0, use)
            cells = (
                info.name,
                info.card.status_label,
                classes_text(info.card),
                validation_text(info.card),
                info.source,
            )
            tip = card_html(info.card, info.sha256, self.case)
            for c, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                self.table.setItem(r, c, item)
        for column in (COLUMNS.index("Status"), COLUMNS.index("Classes")):
            width = min(self.table.sizeHintForColumn(column), WRAP_WIDTH)
            self.table.horizontalHeader().resizeSection(column, max(width, 80))
        self.table.resizeRowsToContents()
        if not self.infos:
            self.status.setText("No model bundles are installed. Import a .ddbundle file.")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.table.resizeRowsToContents()  # wrapped cells, at the widths the layout gave

    def _use_item(self, row: int) -> QTableWidgetItem:
        item = self.table.item(row, 0)
        assert item is not None  # every row of the table gets its "use" check box when filled
        return item

    def checked(self) -> list[str]:
        return [
            info.name
            for r, info in enumerate(self.infos)
            if self._use_item(r).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, names: list[str]) -> None:
        for r, info in enumerate(self.infos):
            self._use_item(r).setCheckState(
                Qt.CheckState.Checked if info.name in names else Qt.CheckState.Unchecked
            )

    def current_info(self) -> BundleInfo | None:
        row = self.table.currentRow()
        if 0 <= row < len(self.infos):
            return self.infos[row]
        return self.infos[0] if len(self.infos) == 1 else None

    def view_card(self, *_args) -> CardDialog | None:
        info = self.current_info()
        if info is None:
            self.status.setText("Select a model first.")
            return None
        dialog = CardDialog(info, self.case, self)
        dialog.open()
        return dialog

    def apply(self) -> None:
        chosen = self.checked()
        if not chosen:
            self.dialogs.error(self, "Models", "Check at least one model.")
            return
        self._selected = chosen
        self.selection_changed.emit(chosen)
        self.accept()

    # -- import ------------------------------------------------------------------------------------

    def import_bundle(self, path: str | None = None) -> int | None:
        path = path or self.dialogs.open_bundle(self)
        if not path:
            return None
        try:
            header = read_header(
                path
            )  # cheap: refuses non-bundles before the engine loads anything
        except BundleError as exc:
            self.dialogs.error(self, "Import refused", f"The bundle was refused: {exc}")
            return None
        dest = paths.user_models_dir() / f"{header.name}{BUNDLE_SUFFIX}"
        force = False
        if dest.exists():
            if not self.dialogs.confirm(
                self, "Replace model?", f"A model named {header.name} is installed. Replace it?"
            ):
                return None
            force = True
        self.status.setText(f"Verifying {Path(path).name}…")
        self._import_id = self.engine.submit(p.InstallBundle(str(path), force=force))
        return self._import_id

    def _on_reply(self, reply: p.Reply) -> None:
        if reply.req_id != self._import_id:
            return
        self._import_id = None
        if reply.ok:
            self.status.setText(f"Imported {reply.value.name} ({reply.value.status}).")
            self.refresh()
            self.bundles_changed.emit()
        else:
            self.status.setText(f"Refused: {reply.error}")
            self.dialogs.error(
                self, "Import refused", f"The bundle was refused: {reply.error}", reply.details
            )
