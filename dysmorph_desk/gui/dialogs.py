"""Every modal question the app asks goes through ``Dialogs``, so tests inject answers instead of
blocking on a dialog. ``ErrorDialog`` shows the one-line reason, and the details (a traceback)
behind a "Copy details" button."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import dysmorph_desk.gui.compat  # noqa: F401  (PySide6 6.12 work-around, before any Qt call)
from dysmorph_desk import __version__
from dysmorph_desk.utils import paths

log = logging.getLogger(__name__)
PHOTO_FILTER = (
    "Photos (*.jpg *.jpeg *.png *.heic *.heif *.webp *.bmp *.tif *.tiff *.gif);;All files (*)"
)
BUNDLE_FILTER = "DysmorphDesk bundles (*.ddbundle);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.svg);;All files (*)"
GALLERY_FILTER = "DysmorphDesk galleries (*.ddgallery);;All files (*)"


Role = QMessageBox.ButtonRole


@dataclass(frozen=True)
class Question:
    """A question with named answers; "cancel" is what Escape or closing the box gives."""

    title: str
    text: str
    choices: tuple[tuple[str, str, QMessageBox.ButtonRole], ...]  # (answer, button text, role)
    default: str = "cancel"
    informative: str = ""

    def format(self, **values: object) -> Question:
        return replace(
            self, text=self.text.format(**values), informative=self.informative.format(**values)
        )


CANCEL = ("cancel", "Cancel", Role.RejectRole)
QUESTIONS: dict[str, Question] = {
    "photo_with_case": Question(
        "Open photo",
        "The current case already holds details ({details}). Is this photo of the same patient?",
        (
            ("same", "Same patient — add this photo to the current visit", Role.AcceptRole),
            ("new", "New case", Role.ActionRole),
            CANCEL,
        ),
        informative="New case clears the patient's details and results first "
        "(you are asked about anything not saved).",
    ),
    "unsaved": Question(
        "Unsaved case",
        "The case {case} has changes that are not saved in the case store.",
        (
            ("save", "Save", Role.AcceptRole),
            ("discard", "Discard", Role.DestructiveRole),
            CANCEL,
        ),
        default="save",
        informative="Save files its photos and results in the case store; Discard forgets them.",
    ),
    "unsaved_details": Question(
        "Unsaved case",
        "The details entered for the case {case} are not saved anywhere (no photo is screened).",
        (("discard", "Discard", Role.DestructiveRole), CANCEL),
    ),
    "overwrite": Question(
        "Replace file",
        "{name} already exists. Replace it?",
        (("overwrite", "Replace", Role.DestructiveRole), CANCEL),
    ),
    "delete_case": Question(
        "Delete case",
        "Delete the case {case} ({visits} visit(s), {photos} photo(s)) from the case store?",
        (("delete", "Delete…", Role.DestructiveRole), CANCEL),
        informative="Its visits, photos, results and export records are erased.",
    ),
    "delete_case_again": Question(
        "Delete case — are you sure?",
        "The case {case} will be erased permanently. This cannot be undone.",
        (("delete", "Delete permanently", Role.DestructiveRole), CANCEL),
        informative="Files already exported (PDF, JSON, FHIR, DICOM) are not removed.",
    ),
}


class ErrorDialog(QDialog):
    def __init__(self, parent: QWidget | None, title: str, message: str, details: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.details = details
        layout = QVBoxLayout(self)
        label = QLabel(message)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(label)
        if details:
            note = QLabel(f"Details are in the log folder: {paths.log_dir()}")
            note.setWordWrap(True)
            layout.addWidget(note)
            text = QPlainTextEdit(details)
            text.setReadOnly(True)
            text.setVisible(False)
            layout.addWidget(text)
            show = QPushButton("Show details")
            show.setCheckable(True)
            show.toggled.connect(text.setVisible)
            layout.addWidget(show)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        if details:
            copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
            copy.setToolTip("Copy the technical details to the clipboard (for a bug report)")
            copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(f"DysmorphDesk {__version__}\n{self.details}")


class Dialogs:
    """The real, modal dialogs. Tests use a subclass that records and answers."""

    def error(self, parent: QWidget | None, title: str, message: str, details: str = "") -> None:
        ErrorDialog(parent, title, message, details).exec()

    def info(self, parent: QWidget | None, title: str, message: str) -> None:
        QMessageBox.information(parent, title, message)

    def ask(self, parent: QWidget | None, kind: str, question: Question) -> str:
        """Ask ``question`` (one of ``QUESTIONS``, formatted); the chosen answer's name."""
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(question.title)
        box.setText(question.text)
        if question.informative:
            box.setInformativeText(question.informative)
        buttons = {}
        for answer, label, role in question.choices:
            buttons[answer] = box.addButton(label, role)
        if question.default in buttons:
            box.setDefaultButton(buttons[question.default])
        if "cancel" in buttons:
            box.setEscapeButton(buttons["cancel"])
        box.exec()
        clicked = box.clickedButton()
        return next((a for a, b in buttons.items() if b is clicked), "cancel")

    def confirm(self, parent: QWidget | None, title: str, message: str) -> bool:
        answer = QMessageBox.question(parent, title, message)
        return answer == QMessageBox.StandardButton.Yes

    def open_photo(self, parent: QWidget | None, folder: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, "Open photo", folder, PHOTO_FILTER)
        return path or None

    def open_video(self, parent: QWidget | None) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            parent, "Open video", "", "Videos (*.avi *.mp4 *.mov *.mkv);;All (*)"
        )
        return path or None

    def open_bundle(self, parent: QWidget | None) -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, "Import model bundle", "", BUNDLE_FILTER)
        return path or None

    def open_gallery(self, parent: QWidget | None, folder: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            parent, "Choose clinic gallery", folder, GALLERY_FILTER
        )
        return path or None

    def open_image(self, parent: QWidget | None, title: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, title, "", IMAGE_FILTER)
        return path or None

    def choose_folder(self, parent: QWidget | None, title: str, folder: str = "") -> str | None:
        return QFileDialog.getExistingDirectory(parent, title, folder) or None

    def save_export(
        self, parent: QWidget | None, title: str, default: Path, name_filter: str
    ) -> str | None:
        """Where to write an export. The app asks itself before replacing a file (so the
        question is the same on every platform and in tests)."""
        path, _ = QFileDialog.getSaveFileName(
            parent,
            title,
            str(default),
            name_filter,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        return path or None

    def report_saved(self, parent: QWidget | None, path: str) -> bool:
        """Tell the user where the report went; True when they want to open it now."""
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Report exported",
            f"The report was saved to\n{path}",
            QMessageBox.StandardButton.Close,
            parent,
        )
        open_button = box.addButton("Open PDF", QMessageBox.ButtonRole.AcceptRole)
        box.exec()
        return box.clickedButton() is open_button
