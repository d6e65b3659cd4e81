"""How a photo reaches the main window: File ▸ Open, a path (command line, Recent photos, a test),
a captured frame, a photo of the case store, Paste, and drag and drop.

A base class of ``main_window.MainWindow``, kept apart so that the window itself is about screening
and showing results. Every way in ends in ``MainWindow._new_photo`` (after ``CaseFlow.before_photo``
asks about an unsaved case where it applies); a pasted or dropped image is screened as PNG bytes,
a pasted or dropped file as its path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QMainWindow

from dysmorph_desk.gui.export import mime_payload, png_bytes

if TYPE_CHECKING:  # set up by MainWindow, which imports this module
    from dysmorph_desk.gui.case_flow import CaseFlow
    from dysmorph_desk.gui.dialogs import Dialogs
    from dysmorph_desk.gui.recent import RecentFiles
    from dysmorph_desk.settings import Settings

log = logging.getLogger(__name__)


class PhotoIntake(QMainWindow):
    """The main window's inputs; ``MainWindow.__init__`` sets the attributes declared here."""

    dialogs: Dialogs
    settings: Settings
    recent: RecentFiles
    flow: CaseFlow
    actions_: SimpleNamespace  # from ``actions.build_actions``
    _new_photo: Callable[[str | bytes], None]  # screens a file path or a frame's PNG bytes

    def open_dialog(self) -> None:
        folder = str(Path(self.recent.items()[0]).parent) if self.recent.items() else ""
        path = self.dialogs.open_photo(self, folder)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            self.dialogs.error(self, "Open photo", "The file does not exist or is not a file.")
            return
        if not self.flow.before_photo():
            return
        self.recent.add(path)
        log.info(
            "opening a photo%s", f" ({path.name})" if self.settings.app.remember_photo_names else ""
        )
        self._new_photo(str(path))

    def screen_frame(self, rgb: np.ndarray) -> None:
        """A captured or pasted image (RGB uint8), screened as PNG: the store keeps what was
        screened, byte for byte."""
        if self.flow.before_photo():
            self._new_photo(png_bytes(rgb))

    def open_stored(self, path: str) -> None:
        """A photo from the case store (Cases view): the case is already set up for it."""
        self._new_photo(path)

    def paste(self) -> None:
        clipboard = QGuiApplication.clipboard()
        payload = mime_payload(clipboard.mimeData(), clipboard.image())
        if payload is None:
            self.dialogs.info(self, "Paste", "The clipboard holds no image and no image file.")
        else:
            self._open_payload(payload)

    def _open_payload(self, payload: str | np.ndarray) -> None:
        if isinstance(payload, str):
            self.open_path(payload)
        else:
            self.screen_frame(payload)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        payload = mime_payload(event.mimeData())
        event.acceptProposedAction()
        if payload is not None:
            self._open_payload(payload)

    def fill_recent_menu(self) -> None:
        menu = self.actions_.recent_menu
        menu.clear()
        items = self.recent.items()
        if not self.settings.app.remember_photo_names:
            menu.addAction("Off — allow remembering file names in Settings").setEnabled(False)
        elif not items:
            menu.addAction("No recent photos").setEnabled(False)
        for item in items:
            menu.addAction(Path(item).name, lambda path=item: self.open_path(path)).setToolTip(item)
