"""File ▸ Print: the report PDF on a printer.

With QtPdf (PySide6-Addons) the PDF's pages are rasterised at the printer's resolution and drawn
through ``QPrinter``, after the usual ``QPrintDialog``. PySide6-Essentials, which this app depends
on, has no QtPdf, and nothing else installed rasterises a PDF (reportlab only writes them,
pypdfium2 and PyMuPDF are not dependencies). Then Print writes the report to a private temporary
file and opens it in the system's PDF viewer (``QDesktopServices``), which prints it; the window
says so. The temporary copies hold patient data: the folder is the user's own (0700), and they are
removed on the next Print and when the app quits.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import suppress
from pathlib import Path

from PySide6.QtCore import QRectF, QSizeF, QUrl
from PySide6.QtGui import QDesktopServices, QPainter
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QWidget

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk.utils import paths

log = logging.getLogger(__name__)
PRINT_DPI = 300  # pages are rasterised at most this finely (the report's images are 150-300 dpi)


def has_qtpdf() -> bool:
    try:
        import PySide6.QtPdf  # noqa: F401
    except ImportError:
        return False
    return True


def ask_printer(parent: QWidget | None, printer: QPrinter) -> bool:
    """The print dialog (tests replace this function); True when the user chose to print."""
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle("Print report")
    return dialog.exec() == QDialog.DialogCode.Accepted


def print_pdf(printer: QPrinter, pdf: bytes) -> int:
    """Draw every page of ``pdf`` on ``printer`` (needs QtPdf); the number of pages printed."""
    from PySide6.QtPdf import QPdfDocument

    folder = _print_folder()
    fd, name = tempfile.mkstemp(prefix="print-", suffix=".pdf", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pdf)
        doc = QPdfDocument()
        if doc.load(name) != QPdfDocument.Error.None_:
            raise OSError("the report could not be read back for printing")
        painter = QPainter()
        if not painter.begin(printer):
            raise OSError("the printer could not be started")
        try:
            for page in range(doc.pageCount()):
                if page:
                    printer.newPage()
                target = QRectF(painter.viewport())  # printer pixels
                size = doc.pagePointSize(page)  # points
                scale = min(target.width() / size.width(), target.height() / size.height())
                out = QSizeF(size.width() * scale, size.height() * scale)
                dpi = min(printer.resolution(), PRINT_DPI)  # a 1200-dpi page would be ~500 MB
                pixels = QSizeF(size.width() * dpi / 72, size.height() * dpi / 72).toSize()
                painter.drawImage(QRectF(target.topLeft(), out), doc.render(page, pixels))
        finally:
            painter.end()
        return doc.pageCount()
    finally:
        with suppress(OSError):
            Path(name).unlink()


def open_in_viewer(pdf: bytes, stem: str) -> Path:
    """The fallback: write ``pdf`` to a private temporary file and open it in the PDF viewer."""
    clean_print_folder()
    folder = _print_folder()
    fd, name = tempfile.mkstemp(prefix=f"{stem}-", suffix=".pdf", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pdf)
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(name)):
        log.warning("no application opened the report for printing")
    return Path(name)


def _print_folder() -> Path:
    folder = paths.cache_dir() / "print"
    folder.mkdir(parents=True, exist_ok=True)
    with suppress(OSError):
        os.chmod(folder, 0o700)
    return folder


def clean_print_folder() -> None:
    """Remove the temporary reports of earlier prints (a viewer may still hold one: skipped)."""
    folder = paths.cache_dir() / "print"
    if folder.is_dir():
        for path in folder.glob("*.pdf"):
            with suppress(OSError):
                path.unlink()
