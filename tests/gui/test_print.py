"""File ▸ Print: through QPrinter when QtPdf can draw the report's pages (printed here to a PDF
file, no dialog), otherwise the report opens in the system's PDF viewer."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from dysmorph_desk.gui import printing

TIMEOUT = 30_000


def screened(qtbot, window, portraits):
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.open_path(portraits["grace_hopper"])
    window.case_panel.patient_id.setText("P-0042")


class FakeServices:
    opened: ClassVar[list[str]] = []

    @classmethod
    def openUrl(cls, url):
        cls.opened.append(url.toLocalFile())
        return True


def test_print_without_qtpdf_opens_the_report_in_the_viewer(qtbot, window, portraits, monkeypatch):
    monkeypatch.setattr(printing, "has_qtpdf", lambda: False)
    monkeypatch.setattr(printing, "QDesktopServices", FakeServices)
    FakeServices.opened = []
    screened(qtbot, window, portraits)
    assert window.actions_.print.isEnabled()
    with qtbot.waitSignal(window.flow.printed, timeout=TIMEOUT) as sig:
        window.actions_.print.trigger()
    [opened] = FakeServices.opened
    assert opened == sig.args[0] and "P-0042" in opened
    data = Path(opened).read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1000
    assert "PDF viewer" in window.statusBar().currentMessage()
    window.flow.new_case()
    printing.clean_print_folder()  # also done on quit: no patient data left behind
    assert not list(printing._print_folder().glob("*.pdf"))


@pytest.mark.skipif(not printing.has_qtpdf(), reason="QtPdf (PySide6-Addons) is not installed")
def test_print_to_a_pdf_printer(qtbot, window, portraits, monkeypatch, tmp_path):
    from PySide6.QtPrintSupport import QPrinter

    out = tmp_path / "printed.pdf"

    def to_file(parent, printer):
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(out))
        printer.setResolution(150)
        return True

    monkeypatch.setattr(printing, "ask_printer", to_file)
    screened(qtbot, window, portraits)
    with qtbot.waitSignal(window.flow.printed, timeout=TIMEOUT):
        window.actions_.print.trigger()
    assert out.read_bytes().startswith(b"%PDF") and out.stat().st_size > 1000
    assert not window.dialogs.errors


def test_print_cancelled_in_the_dialog_prints_nothing(qtbot, window, portraits, monkeypatch):
    monkeypatch.setattr(printing, "has_qtpdf", lambda: True)
    asked, printed = [], []
    monkeypatch.setattr(printing, "ask_printer", lambda parent, printer: asked.append(1) and False)
    monkeypatch.setattr(printing, "print_pdf", lambda printer, pdf: printed.append(pdf) or 1)
    screened(qtbot, window, portraits)
    window.actions_.print.trigger()
    qtbot.waitUntil(lambda: bool(asked), timeout=TIMEOUT)
    assert printed == [] and not window.dialogs.errors


def test_print_needs_a_result(qtbot, window):
    window.flow.print_report()
    assert window.dialogs.infos == [("Print", "Screen a photo first.")]
