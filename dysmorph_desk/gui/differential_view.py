"""The ranked differential on screen: the "No close match" banner, the table, notes, disclaimer.

The table holds what the PDF's "Differential" table holds (``report/differential.py``): rank,
disorder (name and id; local ids marked "face only"), gestalt distance, the nearest gallery
entries — by entry number only, never another child's patient id —, phenotype score and
combined score. The combined score orders the candidates; it is not a probability and is never
shown as a percentage.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dysmorph_desk.differential.fusion import DifferentialRow
from dysmorph_desk.differential.result import (
    DIFFERENTIAL_DISCLAIMER,
    DifferentialResult,
    distance_text,
)
from dysmorph_desk.report.formatting import format_rate

COLUMNS = (
    ("Rank", "The candidate's place in the combined order"),
    ("Disorder", "Disorder name and id (OMIM, ORPHA, or the clinic's own LOCAL: id)"),
    (
        "Gestalt\ndistance",
        "Cosine distance of the face to the disorder's gallery patients (0 = same direction, "
        "2 = opposite); lower is closer. – : the disorder has no gallery entry",
    ),
    (
        "Nearest gallery\nentries",
        "The disorder's nearest gallery entries by entry number, with their distance "
        "(never another child's patient ID)",
    ),
    (
        "Phenotype\nscore",
        "Resnik / funSimAvg similarity of the entered HPO terms to the disease's annotations. "
        "– : no terms entered, or a local id no ontology annotates",
    ),
    ("Combined\nscore", "Orders the candidates (logistic combination); not a probability"),
)
LOCAL_MARK = "local id, face only"
BANNER_STYLE = "QLabel { background: #B71C1C; color: white; font-weight: bold; padding: 6px; }"


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def nearest_text(entries: tuple[tuple[int, float], ...]) -> str:
    """``#12 (0.213), #40 (0.250)``: entry numbers and distances only."""
    return ", ".join(f"#{int(e)} ({distance_text(float(d))})" for e, d in entries) or "–"


def disorder_text(row: DifferentialRow) -> str:
    text = f"{row.name} ({row.disorder_id})"
    if not row.in_ontology and row.gestalt_distance is not None:
        text += f" — {LOCAL_MARK}"
    return text


def row_cells(row: DifferentialRow) -> list[str]:
    """One table row's texts, in :data:`COLUMNS` order."""
    return [
        str(row.rank),
        disorder_text(row),
        "–" if row.gestalt_distance is None else distance_text(row.gestalt_distance),
        nearest_text(row.nearest_entries),
        _number(row.phenotype_score, 2),
        f"{row.combined_score:.3f}",
    ]


def no_match_text(diff: DifferentialResult) -> str:
    """The banner: how far the nearest entry is, the threshold, and the threshold's false-match
    rate with its interval and sample size."""
    g = diff.gallery
    if g is None or g.threshold is None or diff.nearest_distance is None:
        return ""
    text = (
        f"No close match: the nearest gallery entry is at cosine distance "
        f"{distance_text(diff.nearest_distance)}, beyond this gallery's threshold {distance_text(g.threshold)}"
    )
    rate = g.false_match
    if rate is not None:
        text += (
            f" (set on {rate.n} unrelated children: {rate.k} matched within it, "
            f"{g.false_match_basis}; "
            f"{format_rate(rate)})"
        )
    return text + ". The candidates below are the least distant, not close."


def context_text(diff: DifferentialResult) -> str:
    """What the ranking was made from: photos, gallery, terms, HPO release, fusion weights."""
    parts = [f"Ranked for {diff.photos_used} photo{'s' if diff.photos_used != 1 else ''}"]
    g = diff.gallery
    if g is None:
        parts.append("no gallery (phenotype terms only)")
    else:
        parts.append(
            f"gallery SHA-256 {g.sha256[:12]}…, {g.entries} entries of {g.disorders} disorders, "
            f"{g.bundle} embeddings ({g.status}), per disorder: {g.aggregate}"
        )
    if diff.hpo_terms:
        terms = ", ".join(f"{t.id} {t.label}" for t in diff.hpo_terms)
        parts.append(f"HPO terms: {terms} (HPO release {diff.hpo_release or 'unknown'})")
    else:
        parts.append("no HPO terms (the face alone)")
    parts.append(f"fusion weights: {diff.weights.fitted_on}")
    return "; ".join(parts) + "."


class DifferentialTable(QWidget):
    """Banner, message line, table, context, notes and the disclaimer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = QLabel("")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)  # gallery text is never markup
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setAccessibleName("No close match")
        self.banner.setVisible(False)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # gallery text is never markup
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Differential status")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Candidate disorders")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        for i, (title, tip) in enumerate(COLUMNS):
            item = QTableWidgetItem(title)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(i, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.context = QLabel("")
        self.context.setTextFormat(Qt.TextFormat.PlainText)  # gallery text is never markup
        self.context.setWordWrap(True)
        self.context.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = QLabel("")
        self.notes.setTextFormat(Qt.TextFormat.PlainText)  # gallery text is never markup
        self.notes.setWordWrap(True)
        self.notes.setAccessibleName("Differential notes")
        self.disclaimer = QLabel(DIFFERENTIAL_DISCLAIMER)
        self.disclaimer.setWordWrap(True)
        small = self.context.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        for label in (self.context, self.notes, self.disclaimer):
            label.setFont(small)
        italic = self.disclaimer.font()
        italic.setItalic(True)
        self.disclaimer.setFont(italic)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.banner, self.message):
            layout.addWidget(w)
        layout.addWidget(self.table, 1)
        for w in (self.context, self.notes, self.disclaimer):
            layout.addWidget(w)
        self.result: DifferentialResult | None = None
        self.show_message("")

    def show_message(self, text: str, error: bool = False) -> None:
        """No table: a state ("Ranking…", "Screen a photo first") or a one-line error."""
        self.result = None
        self.table.setRowCount(0)
        self.banner.setVisible(False)
        self.context.setText("")
        self.notes.setText("")
        self._message(text, error)

    def _message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("QLabel { color: #B71C1C; }" if error else "")
        self.message.setVisible(bool(text))

    def show_result(self, diff: DifferentialResult, message: str = "") -> None:
        self.result = diff
        banner = no_match_text(diff) if diff.no_close_match else ""
        self.banner.setText(banner)
        self.banner.setVisible(bool(banner))
        self.table.setRowCount(len(diff.rows))
        for r, row in enumerate(diff.rows):
            for c, text in enumerate(row_cells(row)):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if c == 1:
                    item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        if not diff.rows:
            message = message or "No candidate: nothing in the gallery or the ontology scored."
        self._message(message)
        self.context.setText(context_text(diff))
        self.notes.setText("\n".join(f"Note: {n}" for n in diff.notes))
        self.notes.setVisible(bool(diff.notes))

    def cell_texts(self) -> list[list[str]]:
        """Every cell's text, row by row (tests; screen readers read the same)."""
        out = []
        for r in range(self.table.rowCount()):
            items = [self.table.item(r, c) for c in range(self.table.columnCount())]
            out.append([item.text() if item is not None else "" for item in items])
        return out
