"""The summary first (do the models agree? each model's one-line answer), then per-model results
(probability bars, predicted class against the threshold, status badge with the model card as
tooltip, "cannot assess" reasons), then the quality checks and the warnings."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.gui.card_text import card_html
from dysmorph_desk.gui.help_window import help_link
from dysmorph_desk.gui.probability_bar import ProbabilityBar
from dysmorph_desk.report.formatting import format_percent, num, shown_classes
from dysmorph_desk.screening.results import CaseInfo, ModelResult, ScreeningResult
from dysmorph_desk.screening.summary import Summary, summarise

STATUS_COLORS = {"demonstration": "#E65100", "research": "#1565C0", "validated": "#2E7D32"}
FLAG_COLOR = "#B00020"


def status_badge(card: ModelCard, sha256: str = "", case: CaseInfo | None = None) -> QLabel:
    badge = QLabel(card.status.capitalize())
    color = STATUS_COLORS.get(card.status, "#455A64")
    badge.setStyleSheet(
        f"QLabel {{ background: {color}; color: white; border-radius: 6px; padding: 1px 8px; }}"
    )
    badge.setToolTip(card_html(card, sha256, case))
    badge.setAccessibleName(f"Model status: {card.status_label}")
    return badge


class ModelResultWidget(QFrame):
    def __init__(
        self, result: ModelResult, case: CaseInfo | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.result = result
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        name = QLabel(f"<b>{escape(result.model)}</b>")
        name.setToolTip(card_html(result.card, result.bundle_sha256, case))
        head.addWidget(name)
        self.badge = status_badge(result.card, result.bundle_sha256, case)
        head.addWidget(self.badge)
        head.addStretch(1)
        layout.addLayout(head)
        self.bars: dict[str, ProbabilityBar] = {}
        if not result.assessable:
            self.verdict = QLabel(f"Cannot assess: {result.cannot_assess_reason}")
            self.verdict.setStyleSheet(f"color: {FLAG_COLOR};")
            self.verdict.setWordWrap(True)
            layout.addWidget(self.verdict)
            return
        probabilities, predicted_id = result.probabilities, result.predicted
        synd, thr = result.syndromic_probability, result.threshold
        # An assessable result always has its probabilities (screening.pipeline).
        assert probabilities is not None and predicted_id is not None and synd is not None
        grid = QGridLayout()
        names = result.class_names
        shown = shown_classes(probabilities)  # a many-class model (a gallery encoder): the top few
        for row, (cid, prob) in enumerate(shown):
            syndromic = cid in {c.id for c in result.card.classes if c.syndromic}
            label = QLabel(names.get(cid, cid) + (" ⚑" if syndromic else ""))
            label.setToolTip("a syndromic class" if syndromic else "a non-syndromic class")
            bar = ProbabilityBar(prob)
            bar.setAccessibleName(f"Probability of {names.get(cid, cid)}")
            bar.setToolTip(f"{names.get(cid, cid)}: {bar.text()}")
            if cid == predicted_id:
                label.setText(f"<b>{escape(label.text())}</b>")
            grid.addWidget(label, row, 0)
            grid.addWidget(bar, row, 1)
            self.bars[cid] = bar
        layout.addLayout(grid)
        if len(shown) < len(probabilities):
            more = QLabel(
                f"The {len(shown)} most probable of {len(probabilities)} classes; the model card "
                "lists them all, the JSON export gives every probability."
            )
            more.setWordWrap(True)
            layout.addWidget(more)
        predicted = names.get(predicted_id, predicted_id)
        if result.flagged:
            text = (
                f"Predicted: <b>{escape(str(predicted))}</b>. Syndromic probability {escape(format_percent(synd))} ≥ "
                f"threshold {escape(format_percent(thr))} → <b style='color:{FLAG_COLOR}'>flagged for clinical review</b>"
            )
        else:
            text = (
                f"Predicted: <b>{escape(str(predicted))}</b>. Syndromic probability {escape(format_percent(synd))} &lt; "
                f"threshold {escape(format_percent(thr))} → not flagged"
            )
        self.verdict = QLabel(text)
        self.verdict.setWordWrap(True)
        layout.addWidget(self.verdict)
        if result.forced_assessment:
            forced = QLabel("Assessed although quality or age checks failed.")
            forced.setStyleSheet(f"color: {FLAG_COLOR};")
            layout.addWidget(forced)


class SummaryBox(QGroupBox):
    """The answer first, as on the report: whether the models agree, then one line per model."""

    def __init__(self, summary: Summary, parent: QWidget | None = None) -> None:
        super().__init__("Summary", parent)
        self.summary = summary
        layout = QVBoxLayout(self)
        self.agreement: QLabel | None = None
        if summary.agreement:
            color = {"flagged": FLAG_COLOR, "disagree": FLAG_COLOR, "cannot assess": "#B35900"}
            style = color.get(summary.overall or "")
            self.agreement = QLabel(f"<b>{escape(summary.agreement)}</b>")
            self.agreement.setTextFormat(Qt.TextFormat.RichText)
            self.agreement.setWordWrap(True)
            if style:
                self.agreement.setStyleSheet(f"color: {style};")
            layout.addWidget(self.agreement)
        self.lines: list[QLabel] = []
        for line in summary.lines:
            label = QLabel(line.text(format_percent))
            label.setTextFormat(Qt.TextFormat.PlainText)  # "<0.1%" is text, not markup
            label.setWordWrap(True)
            if line.verdict == "flagged":
                label.setStyleSheet(f"color: {FLAG_COLOR}; font-weight: bold;")
            self.lines.append(label)
            layout.addWidget(label)
        self.setAccessibleName("Summary")

    def text(self) -> str:
        """Everything the box says, as plain text (what a screen reader or a test reads)."""
        return "\n".join(self.summary.text_lines(format_percent))


class ResultsView(QScrollArea):
    """Everything the engine said about one photo, in reading order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )  # text wraps instead
        self.setAccessibleName("Results")
        self.model_widgets: list[ModelResultWidget] = []
        self.quality_labels: list[QLabel] = []
        self.warning_labels: list[QLabel] = []
        self.summary_box: SummaryBox | None = None
        self.message: QLabel | None = None  # the text shown instead of a result
        self.set_message("No results yet.")

    def _fresh(self) -> QVBoxLayout:
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setWidget(inner)
        self.model_widgets, self.quality_labels, self.warning_labels = [], [], []
        self.summary_box = None
        return layout

    def set_message(self, text: str, error: bool = False) -> None:
        layout = self._fresh()
        self.message = QLabel(text)
        self.message.setWordWrap(True)
        if error:
            self.message.setStyleSheet(f"color: {FLAG_COLOR};")
        layout.addWidget(self.message)

    def set_result(self, result: ScreeningResult) -> None:
        layout = self._fresh()
        self.message = None
        if result.results:
            self.summary_box = SummaryBox(summarise(result))
            layout.addWidget(self.summary_box)
        models = QGroupBox("Models")
        mlay = QVBoxLayout(models)
        for r in result.results:
            w = ModelResultWidget(r, result.case)
            self.model_widgets.append(w)
            mlay.addWidget(w)
        layout.addWidget(models)
        quality = QGroupBox("Quality checks")
        qlay = QVBoxLayout(quality)
        for q in result.quality:
            mark = "✓" if q.passed else ("✗" if q.hard else "!")
            color = "" if q.passed else f"color: {FLAG_COLOR};" if q.hard else "color: #B35900;"
            text = f"{mark} {q.name.replace('_', ' ')}: {num(float(q.value), 3)} {q.unit} (limit {q.comparison} {q.limit:g})"
            if q.message:
                text += f" — {q.message}"
            label = QLabel(text)
            label.setWordWrap(True)
            label.setStyleSheet(color)
            label.setToolTip(
                "a hard check: when it fails the models cannot assess"
                if q.hard
                else "a soft check: a warning only"
            )
            self.quality_labels.append(label)
            qlay.addWidget(label)
        layout.addWidget(quality)
        if result.warnings:
            warn = QGroupBox("Warnings")
            wlay = QVBoxLayout(warn)
            for text in result.warnings:
                label = QLabel(f"⚠ {text}")
                label.setWordWrap(True)
                self.warning_labels.append(label)
                wlay.addWidget(label)
            layout.addWidget(warn)
        disclaimer = QLabel(f"<i>{escape(result.disclaimer)}</i>")
        disclaimer.setWordWrap(True)
        layout.addWidget(disclaimer)
        layout.addWidget(
            help_link("results", "How to read these results", "The user guide's page on results")
        )
