"""The child's age as years and months, with the total in months shown beside it.

Clinicians say "two and a half", not "30.0 months", so the age is entered as years (0-17) and
months (0-11) and the field says what that makes: "2 y 6 m = 30 months". What the case keeps is
still months (``CaseInfo.age_months``), as before. An age read back from a stored case that the
two boxes cannot show exactly (a fraction of a month, or more than 17 years from the command
line) is kept as it was until the user changes the age: re-opening a case never alters it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QWidget

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.report.formatting import num

NO_AGE = -1.0  # the value of an age that was not given
MAX_YEARS = 17  # a child: the years box's range for typed ages


def total_text(months: float | None) -> str:
    """What the field says beside the boxes: ``= 30 months``, ``= 1 month``, or nothing."""
    if months is None:
        return "not given"
    return f"= {num(months, 1)} month{'' if months == 1 else 's'}"


class AgeField(QWidget):
    """Years and months boxes with the total; ``value()`` is months, ``NO_AGE`` when not given.

    Its ``value``/``setValue``/``valueChanged`` mirror the single months box it replaces.

    Example:
        >>> field = AgeField()  # doctest: +SKIP
        >>> field.years.setValue(2); field.months.setValue(6)  # doctest: +SKIP
        >>> field.value(), field.total.text()  # doctest: +SKIP
        (30.0, '= 30 months')
    """

    valueChanged = Signal(float)  # months, NO_AGE when not given

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.years = QSpinBox()
        self.years.setRange(-1, MAX_YEARS)
        self.years.setSpecialValueText("not given")
        self.years.setSuffix(" y")
        self.years.setValue(-1)
        self.years.setToolTip(
            "Age: whole years (0-17); the lowest value means the age is not given"
        )
        self.years.setAccessibleName("Age, years")
        self.months = QSpinBox()
        self.months.setRange(0, 11)
        self.months.setSuffix(" m")
        self.months.setToolTip("Age: months beyond the whole years (0-11)")
        self.months.setAccessibleName("Age, months")
        self.months.setEnabled(False)
        self.total = QLabel(total_text(None))
        self.total.setAccessibleName("Age in months")
        self.total.setToolTip("What the case records: the age in months")
        # all the room there is, none demanded: a narrow window keeps its minimum width (the
        # boxes say the age; the total repeats it in months)
        self.total.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for box in (self.years, self.months):  # as wide as their text; the total gets the rest
            box.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.years)
        row.addWidget(self.months)
        row.addWidget(self.total, 1)
        self.setFocusProxy(self.years)
        QWidget.setTabOrder(self.years, self.months)
        self._exact: float | None = None  # a stored age the boxes cannot show exactly
        self.years.valueChanged.connect(self._edited)
        self.months.valueChanged.connect(self._edited)

    def value(self) -> float:
        """The age in months, or ``NO_AGE``."""
        if self._exact is not None:
            return self._exact
        if self.years.value() < 0:
            return NO_AGE
        return float(12 * self.years.value() + self.months.value())

    def setValue(self, months: float | None) -> None:
        """Show ``months`` (None or a negative value: not given)."""
        before = self.value()
        if months is None or months < 0 or math.isnan(months):
            years, rest, exact = -1, 0, None
        else:
            years, rest = divmod(int(months), 12)
            exact = float(months) if float(months) != int(months) else None
            if years > MAX_YEARS:  # kept, not clamped; the box grows to show it
                self.years.setMaximum(years)
                exact = float(months)
        for box, v in ((self.years, years), (self.months, rest)):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)
        self._exact = exact
        self._refresh()
        if self.value() != before:
            self.valueChanged.emit(self.value())

    def _edited(self, _value: int) -> None:
        self._exact = None  # the user changed the age: the boxes say it now
        if self.years.maximum() > MAX_YEARS and self.years.value() <= MAX_YEARS:
            self.years.setMaximum(MAX_YEARS)
        self._refresh()
        self.valueChanged.emit(self.value())

    def _refresh(self) -> None:
        given = self.years.value() >= 0
        self.months.setEnabled(given)
        months = self.value()
        self.total.setText(total_text(months if months >= 0 else None))
