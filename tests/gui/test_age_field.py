"""Age as years + months with the total shown; the case still records months, and a stored age
the boxes cannot show exactly is kept as it was."""

from __future__ import annotations

from PySide6.QtCore import Qt

from dysmorph_desk.gui.age_field import MAX_YEARS, NO_AGE, AgeField, total_text
from dysmorph_desk.gui.case_panel import CasePanel
from dysmorph_desk.screening.results import CaseInfo


def test_total_text():
    assert total_text(30.0) == "= 30 months"
    assert total_text(1.0) == "= 1 month"
    assert total_text(30.5) == "= 30.5 months"
    assert total_text(None) == "not given"


def test_years_and_months_make_the_total(qtbot):
    field = AgeField()
    qtbot.addWidget(field)
    assert field.value() == NO_AGE and not field.months.isEnabled()
    assert field.years.text() == "not given" and field.total.text() == "not given"
    assert (field.years.minimum(), field.years.maximum()) == (-1, MAX_YEARS) == (-1, 17)
    assert (field.months.minimum(), field.months.maximum()) == (0, 11)
    with qtbot.waitSignal(field.valueChanged) as sig:
        field.years.setValue(2)
    assert sig.args == [24.0] and field.months.isEnabled()
    field.months.setValue(6)
    assert field.value() == 30.0 and field.total.text() == "= 30 months"
    assert field.years.text() == "2 y" and field.months.text() == "6 m"
    field.years.setValue(-1)  # back to "not given"
    assert field.value() == NO_AGE and not field.months.isEnabled()


def test_typing_into_the_boxes(qtbot):
    field = AgeField()
    qtbot.addWidget(field)
    field.show()
    field.years.setFocus()
    field.years.selectAll()
    qtbot.keyClicks(field.years, "3")
    qtbot.keyClick(field.years, Qt.Key.Key_Tab)
    field.months.selectAll()
    qtbot.keyClicks(field.months, "11")
    assert field.value() == 47.0 and field.total.text() == "= 47 months"


def test_stored_ages_are_shown_and_kept(qtbot):
    field = AgeField()
    qtbot.addWidget(field)
    field.setValue(30.5)  # a case from the command line: half a month the boxes cannot show
    assert (field.years.value(), field.months.value()) == (2, 6)
    assert field.value() == 30.5 and field.total.text() == "= 30.5 months"
    field.setValue(300)  # 25 years: shown (the box grows), never clamped to 17
    assert (field.years.value(), field.months.value()) == (25, 0) and field.value() == 300
    field.years.setValue(10)  # the user edits: the boxes say the age again
    assert field.value() == 120.0 and field.years.maximum() == MAX_YEARS
    field.setValue(None)
    assert field.value() == NO_AGE


def test_case_panel_records_months(qtbot):
    panel = CasePanel()
    qtbot.addWidget(panel)
    panel.age.years.setValue(1)
    panel.age.months.setValue(3)
    assert panel.case().age_months == 15.0
    panel.set_case(CaseInfo(patient_id="P-1", age_months=30.5, sex="female"))
    assert panel.case().age_months == 30.5  # re-opening a case never changes its age
    panel.reset()
    assert panel.case().age_months is None and panel.age.total.text() == "not given"
    panel.set_age_ranges({"m": (6.0, 144.0)})
    panel.age.years.setValue(15)
    assert panel.age_outside_range() and "180 months" in panel.age_warning.text()
