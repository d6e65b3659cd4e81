"""Case details: pseudonymous patient ID, age (entered as years and months, kept in months), sex,
operator and notes, with a warning when the age is outside a model's validated range."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.gui.age_field import NO_AGE, AgeField
from dysmorph_desk.screening.results import SEXES, CaseInfo
from dysmorph_desk.utils.inputs import NOTES_MAX, OPERATOR_MAX, PATIENT_ID_MAX


class CasePanel(QGroupBox):
    age_changed = Signal()  # debounced: the age affects which models can assess
    edited = Signal()  # any field changed (the case may now differ from what was saved)

    def __init__(self, operator: str = "", parent: QWidget | None = None) -> None:
        super().__init__("Case", parent)
        self.patient_id = QLineEdit()
        self.patient_id.setPlaceholderText("pseudonymous ID, e.g. P-0042")
        self.patient_id.setToolTip("A pseudonymous identifier — never the patient's name")
        self.patient_id.setMaxLength(PATIENT_ID_MAX)
        self.age = AgeField()
        self.age.setToolTip("Age in years and months (models are validated for an age range)")
        self.sex = QComboBox()
        for s in SEXES[::-1]:  # unknown first
            self.sex.addItem(s.capitalize(), s)
        self.sex.setToolTip("Sex of the child")
        self.operator = QLineEdit(operator)
        self.operator.setPlaceholderText("who takes the photo")
        self.operator.setToolTip("Operator (printed on the report)")
        self.operator.setMaxLength(OPERATOR_MAX)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("clinical notes (printed on the report)")
        self.notes.setTabChangesFocus(True)
        self.notes.setMaximumHeight(80)
        self.notes.setToolTip(f"Clinical notes, at most {NOTES_MAX} characters")
        self.notes.textChanged.connect(self._limit_notes)
        self.age_warning = QLabel()
        self.age_warning.setWordWrap(True)
        self.age_warning.setStyleSheet("color: #B35900;")
        self.age_warning.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Case status")
        form = QFormLayout(self)
        form.addRow("Patient &ID:", self.patient_id)
        form.addRow("&Age:", self.age)
        form.addRow("Se&x:", self.sex)
        form.addRow("O&perator:", self.operator)
        form.addRow("&Notes:", self.notes)
        form.addRow(self.age_warning)
        form.addRow(self.status)
        for w in (self.patient_id, self.age, self.sex, self.operator, self.notes):
            label = form.labelForField(w)  # the QLabel that addRow made from the text
            if isinstance(label, QLabel):
                label.setBuddy(w)
        QWidget.setTabOrder(self.patient_id, self.age.years)
        QWidget.setTabOrder(self.age.years, self.age.months)
        QWidget.setTabOrder(self.age.months, self.sex)
        QWidget.setTabOrder(self.sex, self.operator)
        QWidget.setTabOrder(self.operator, self.notes)
        self._ranges: dict[str, tuple[float, float]] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(500)
        self._debounce.timeout.connect(self.age_changed)
        self.age.valueChanged.connect(self._on_age)
        for signal in (
            self.patient_id.textChanged,
            self.age.valueChanged,
            self.sex.currentIndexChanged,
            self.operator.textChanged,
            self.notes.textChanged,
        ):
            signal.connect(lambda *_: self.edited.emit())

    def _limit_notes(self) -> None:
        """QPlainTextEdit has no maximum length: the field stops accepting at the limit."""
        text = self.notes.toPlainText()
        if len(text) > NOTES_MAX:
            cursor = self.notes.textCursor()
            position = min(cursor.position(), NOTES_MAX)
            self.notes.blockSignals(True)
            self.notes.setPlainText(text[:NOTES_MAX])
            self.notes.blockSignals(False)
            cursor = self.notes.textCursor()
            cursor.setPosition(position)
            self.notes.setTextCursor(cursor)

    def case(self) -> CaseInfo:
        age = self.age.value()
        return CaseInfo(
            patient_id=self.patient_id.text().strip(),
            age_months=None if age <= NO_AGE + 1e-9 or age < 0 else float(age),
            sex=self.sex.currentData(),
            operator=self.operator.text().strip(),
            notes=self.notes.toPlainText().strip(),
        )

    def set_case(self, case: CaseInfo) -> None:
        """Show ``case``'s details (a case re-opened from the store)."""
        self.patient_id.setText(case.patient_id)
        self.age.setValue(NO_AGE if case.age_months is None else case.age_months)
        self.sex.setCurrentIndex(max(0, self.sex.findData(case.sex)))
        self.operator.setText(case.operator)
        self.notes.setPlainText(case.notes)
        self._debounce.stop()  # the photo is screened for this age anyway

    def reset(self, operator: str = "") -> None:
        """Every field empty for a new case; the operator is the settings' default."""
        self.set_case(CaseInfo(operator=operator))
        self._ranges = {}
        self._update_warning()

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_age_ranges(self, ranges: dict[str, tuple[float, float]]) -> None:
        """Validated age ranges of the models in use, by model name."""
        self._ranges = dict(ranges)
        self._update_warning()

    def _on_age(self, _value: float) -> None:
        self._update_warning()
        self._debounce.start()

    def _update_warning(self) -> None:
        age = self.case().age_months
        outside = [
            f"{name} ({lo:g}–{hi:g} months)"
            for name, (lo, hi) in self._ranges.items()
            if age is not None and not lo <= age <= hi
        ]
        if outside:
            self.age_warning.setText(
                f"⚠ Age {age:g} months is outside the validated range of "
                + ", ".join(outside)
                + "; such models will not assess this case."
            )
        elif age is None and self._ranges:
            self.age_warning.setText(
                "Age not given: the models' validated age ranges cannot be checked."
            )
        self.age_warning.setVisible(bool(outside) or (age is None and bool(self._ranges)))
        self.age_warning.setProperty("outside", bool(outside))

    def age_outside_range(self) -> bool:
        return bool(self.age_warning.property("outside"))

    def focus_first(self) -> None:
        self.patient_id.setFocus(Qt.FocusReason.OtherFocusReason)
