"""The case fields stop accepting text at the limits the CLI enforces (utils.inputs)."""

from __future__ import annotations

from dysmorph_desk.gui.case_panel import CasePanel
from dysmorph_desk.utils.inputs import NOTES_MAX, OPERATOR_MAX, PATIENT_ID_MAX


def test_text_fields_stop_at_their_limits(qtbot):
    panel = CasePanel()
    qtbot.addWidget(panel)
    panel.patient_id.setText("P" * (PATIENT_ID_MAX + 10))
    panel.operator.setText("O" * (OPERATOR_MAX + 10))
    assert len(panel.patient_id.text()) == PATIENT_ID_MAX
    assert len(panel.operator.text()) == OPERATOR_MAX
    panel.notes.setPlainText("n" * (NOTES_MAX - 2))
    panel.notes.moveCursor(panel.notes.textCursor().MoveOperation.End)
    qtbot.keyClicks(panel.notes, "abcdef")
    assert panel.notes.toPlainText() == "n" * (NOTES_MAX - 2) + "ab"
    panel.notes.setPlainText("x" * (NOTES_MAX * 2))  # a paste
    assert len(panel.notes.toPlainText()) == NOTES_MAX
