"""File ▸ Cases: search the case store by patient ID and visit dates, see a case's visits and
their results over time, the selected visit's HPO terms and filed differential (as filed), re-open
a stored photo (screened again; filed only on Save; the visit's terms come back into the
Differential tab), delete a case (after two confirmations). Store calls are milliseconds: they
run on the UI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.errors import DysmorphError
from dysmorph_desk.gui.dialogs import Dialogs
from dysmorph_desk.gui.store_link import StoreLink
from dysmorph_desk.records.models import CaseRecord, CaseSummary, PhotoRecord, VisitRecord

log = logging.getLogger(__name__)
CASE_COLUMNS = ("Patient ID", "Sex", "Visits", "Photos", "Last visit")
RESULT_COLUMNS = ("Date", "Age (months)", "Photo", "Model", "Syndromic probability", "Flagged")
ANY_DATE = QDate(2000, 1, 1)  # the date edits' minimum, shown as "any"


def _item(text: str, data: Any = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _probability(model: dict[str, Any]) -> tuple[str, str]:
    """(syndromic probability, flagged) as shown for one model's filed result."""
    if not model.get("assessable", True) or model.get("syndromic_probability") is None:
        reason = model.get("cannot_assess_reason") or "not assessable"
        return f"cannot assess: {reason}", "—"
    flagged = model.get("flagged")
    return f"{float(model['syndromic_probability']):.3f}", "⚑ yes" if flagged else "no"


def result_rows(
    record: CaseRecord,
) -> list[tuple[tuple[str, ...], VisitRecord, PhotoRecord | None]]:
    """One row per visit, photo and model (its latest result), then the visit's fused result
    per model; the oldest visit first, so a case's results read down over time."""
    rows: list[tuple[tuple[str, ...], VisitRecord, PhotoRecord | None]] = []
    for visit in record.visits:
        age = "" if visit.age_months is None else f"{visit.age_months:g}"
        for n, photo in enumerate(visit.photos, start=1):
            latest: dict[str, dict[str, Any]] = {}
            for res in photo.results:  # oldest first: a later screening replaces the shown one
                for model in res.result.get("results", []):
                    latest[str(model.get("model", res.bundle_name))] = model
            label = f"{n}" + ("" if photo.file else " (hash only)")
            if not latest:
                rows.append(((visit.date, age, label, "—", "no result", "—"), visit, photo))
            for name, model in latest.items():
                rows.append(((visit.date, age, label, name, *_probability(model)), visit, photo))
        if visit.visit_results:
            fused = visit.visit_results[-1].result
            label = f"visit ({fused.get('photos', len(visit.photos))} photos)"
            for model in fused.get("results", []):
                row = (visit.date, age, label, str(model.get("model", "")), *_probability(model))
                rows.append((row, visit, None))
    return rows


def visit_text(visit: VisitRecord, shown: int = 3) -> str:
    """The selected visit's phenotype, as filed: its HPO terms, and its latest differential's
    top candidates (by name and id: the combined score orders them, it is not a probability)."""
    from dysmorph_desk.records.visit_phenotype import terms_text

    terms = terms_text(visit.hpo_terms) if visit.hpo_terms else "none entered"
    text = f"Visit {visit.date} — HPO terms: {terms}."
    if visit.differentials:
        latest = visit.differentials[-1].result
        rows = latest.get("differential") or []
        names = "; ".join(
            f"{r.get('rank')}. {r.get('name', '')} ({r.get('disorder_id', '')})"
            for r in rows[:shown]
        )
        close = (
            " No close match in the gallery."
            if (latest.get("differential_context") or {}).get("no_close_match")
            else ""
        )
        text += (
            f" Differential filed {visit.differentials[-1].created[:10]} "
            f"(candidates to consider, not a diagnosis): {names or 'no candidates'}.{close}"
        )
    return text


class CasesView(QDialog):
    reopen_requested = Signal(object, object, object)  # CaseRecord, VisitRecord, PhotoRecord
    case_deleted = Signal(str)  # its uid

    def __init__(
        self,
        store: StoreLink,
        ask: Callable[..., str],
        dialogs: Dialogs,
        parent: QWidget | None = None,
        operator: Callable[[], str] = str,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cases")
        self.setModal(False)
        self.resize(980, 560)
        self.store, self._ask, self.dialogs, self._operator = store, ask, dialogs, operator
        self.summaries: list[CaseSummary] = []
        self.record: CaseRecord | None = None
        self.rows: list[tuple[tuple[str, ...], VisitRecord, PhotoRecord | None]] = []
        self.search = QLineEdit()
        self.search.setPlaceholderText("Patient ID contains…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Part of a pseudonymous patient ID; empty: every case")
        self.date_from, self.date_to = self._date_edit("from"), self._date_edit("to")
        self.message = QLabel("")
        self.visit_label = QLabel("")
        self.visit_label.setWordWrap(True)
        self.visit_label.setTextFormat(Qt.TextFormat.PlainText)  # filed text is data, not markup
        self.visit_label.setAccessibleName("The selected visit's HPO terms and differential")
        self.cases_table = _table(CASE_COLUMNS)
        self.results_table = _table(RESULT_COLUMNS)
        self.reopen_button = QPushButton("&Re-open photo")
        self.reopen_button.setToolTip(
            "Open the selected photo as the current case and screen it again (heatmaps "
            "included), with the visit's HPO terms; the new result is filed only when you save "
            "the case"
        )
        self.delete_button = QPushButton("&Delete case…")
        self.delete_button.setToolTip("Erase the selected case from the case store (asks twice)")
        self._layout()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.date_from.dateChanged.connect(lambda _d: self.refresh())
        self.date_to.dateChanged.connect(lambda _d: self.refresh())
        self.cases_table.itemSelectionChanged.connect(self._show_case)
        self.results_table.itemSelectionChanged.connect(self._update_buttons)
        self.results_table.itemDoubleClicked.connect(lambda _i: self.reopen())
        self.reopen_button.clicked.connect(self.reopen)
        self.delete_button.clicked.connect(self.delete_case)
        self._update_buttons()

    def _date_edit(self, which: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(ANY_DATE)
        edit.setSpecialValueText("any")
        edit.setDate(ANY_DATE)
        edit.setToolTip(f"Only cases with a visit {which} this date (the earliest date: any)")
        return edit

    def _layout(self) -> None:
        top = QHBoxLayout()
        label = QLabel("&Search:")
        label.setBuddy(self.search)
        top.addWidget(label)
        top.addWidget(self.search, 1)
        top.addWidget(QLabel("Visits from"))
        top.addWidget(self.date_from)
        top.addWidget(QLabel("to"))
        top.addWidget(self.date_to)
        split = QSplitter()
        split.addWidget(self.cases_table)
        split.addWidget(self.results_table)
        split.setSizes([380, 600])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.reopen_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)
        layout.addWidget(self.visit_label)
        layout.addWidget(buttons)

    # -- contents ----------------------------------------------------------------------------------

    def _dates(self) -> tuple[str | None, str | None]:
        def iso(edit: QDateEdit) -> str | None:
            d = edit.date()
            return None if d <= ANY_DATE else d.toString("yyyy-MM-dd")

        return iso(self.date_from), iso(self.date_to)

    def refresh(self) -> None:
        """Search again (keeping the selected case when it is still listed)."""
        selected = self.record.uid if self.record is not None else None
        try:
            self.summaries = self.store.get().find_cases(self.search.text().strip(), *self._dates())
        except DysmorphError as exc:
            self.summaries = []
            self.message.setText(f"⚠ Case store unavailable: {exc}.")
        else:
            n = len(self.summaries)
            self.message.setText(f"{n} case{'' if n == 1 else 's'}.")
        table = self.cases_table
        table.blockSignals(True)
        table.setRowCount(len(self.summaries))
        row_to_select = -1
        for row, s in enumerate(self.summaries):
            cells = (s.patient_id or "(no ID)", s.sex, str(s.visit_count), str(s.photo_count))
            for col, text in enumerate((*cells, s.last_visit or "")):
                table.setItem(row, col, _item(text, s.uid))
            if s.uid == selected:
                row_to_select = row
        table.blockSignals(False)
        if row_to_select >= 0:
            table.selectRow(row_to_select)
            self._show_case()
        else:
            table.clearSelection()
            self._show_record(None)

    def _selected_uid(self) -> str | None:
        rows = self.cases_table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.cases_table.item(rows[0].row(), 0)
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _show_case(self) -> None:
        uid = self._selected_uid()
        record = None
        if uid is not None:
            try:
                record = self.store.get().get_case(uid)
            except DysmorphError as exc:
                self.message.setText(f"⚠ {exc}")
        self._show_record(record)

    def _show_record(self, record: CaseRecord | None) -> None:
        self.record = record
        self.rows = result_rows(record) if record is not None else []
        table = self.results_table
        table.setRowCount(len(self.rows))
        for row, (cells, _visit, _photo) in enumerate(self.rows):
            for col, text in enumerate(cells):
                table.setItem(row, col, _item(text))
        self._update_buttons()

    def _selected_row(self) -> tuple[tuple[str, ...], VisitRecord, PhotoRecord | None] | None:
        rows = self.results_table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def _update_buttons(self) -> None:
        chosen = self._selected_row()
        self.visit_label.setText(visit_text(chosen[1]) if chosen else "")
        photo = chosen[2] if chosen else None
        self.reopen_button.setEnabled(photo is not None and photo.file is not None)
        self.delete_button.setEnabled(self.record is not None)

    # -- actions -----------------------------------------------------------------------------------

    def select_case(self, uid: str) -> bool:
        """Select the case ``uid`` in the list (tests, and after saving)."""
        for row, s in enumerate(self.summaries):
            if s.uid == uid:
                self.cases_table.selectRow(row)
                return True
        return False

    def reopen(self) -> None:
        chosen = self._selected_row()
        if self.record is None or chosen is None or chosen[2] is None:
            return
        self.reopen_requested.emit(self.record, chosen[1], chosen[2])

    def delete_case(self) -> None:
        """Delete the selected case after two confirmations."""
        record = self.record
        if record is None:
            return
        name = record.patient_id or "without a patient ID"
        first = self._ask(
            "delete_case", case=name, visits=len(record.visits), photos=len(record.photos)
        )
        if first != "delete" or self._ask("delete_case_again", case=name) != "delete":
            return
        try:
            report = self.store.get().delete_case(record.uid, self._operator())
        except DysmorphError as exc:
            self.dialogs.error(self, "Delete case", f"The case was not deleted: {exc}")
            return
        self.record = None
        self.case_deleted.emit(record.uid)
        if report.problems:
            self.dialogs.info(
                self,
                "Delete case",
                "The case was deleted, with problems: " + "; ".join(report.problems),
            )
        self.refresh()
