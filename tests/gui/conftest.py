"""GUI test fixtures: an installed random-weight bundle, dialogs that answer instead of blocking,
and a main window driven by the in-process engine (the real worker process has its own tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from dysmorph_desk.gui.dialogs import Dialogs
from dysmorph_desk.settings import ScreeningSection, Settings
from dysmorph_desk.utils import paths

DEFAULT_ANSWERS = {  # what a careful user answers, so a test never loses or mixes a case
    "photo_with_case": "same",
    "unsaved": "discard",
    "unsaved_details": "discard",
    "overwrite": "overwrite",
    "delete_case": "cancel",
    "delete_case_again": "cancel",
}


class FakeDialogs(Dialogs):
    """Records every message; answers file questions from attributes and the window's questions
    from ``answers`` (by kind); never blocks."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.infos: list[tuple[str, str]] = []
        self.photo_path: str | None = None
        self.save_path: str | None = None
        self.bundle_path: str | None = None
        self.gallery_path: str | None = None
        self.confirm_answer = True
        self.open_report = False
        self.saved_reports: list[str] = []
        self.answers: dict[str, str] = dict(DEFAULT_ANSWERS)
        self.asked: list[tuple[str, str]] = []  # (kind, the question's text)
        self.export_titles: list[str] = []

    def ask(self, parent, kind, question):
        self.asked.append((kind, question.text))
        return self.answers.get(kind, "cancel")

    def error(self, parent, title, message, details=""):
        self.errors.append((title, message, details))

    def info(self, parent, title, message):
        self.infos.append((title, message))

    def confirm(self, parent, title, message):
        return self.confirm_answer

    def open_photo(self, parent, folder=""):
        return self.photo_path

    def open_video(self, parent):
        return None

    def open_bundle(self, parent):
        return self.bundle_path

    def open_gallery(self, parent, folder=""):
        return self.gallery_path

    def open_image(self, parent, title):
        return None

    def choose_folder(self, parent, title, folder=""):
        return None

    def save_export(self, parent, title, default, name_filter):
        self.export_titles.append(f"{title}|{default}")
        return self.save_path

    def report_saved(self, parent, path):
        self.saved_reports.append(path)
        return self.open_report


@pytest.fixture
def dialogs():
    return FakeDialogs()


@pytest.fixture
def installed_bundle(test_bundle):
    """The random bundle in this test's per-user models folder, chosen as the default model."""
    folder = paths.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(test_bundle, folder / Path(test_bundle).name)
    Settings(screening=ScreeningSection(default_models=("test-hybrid",))).save()
    return "test-hybrid"


@pytest.fixture
def window(qtbot, installed_bundle, dialogs):
    from dysmorph_desk.gui.engine import InProcessEngine
    from dysmorph_desk.gui.main_window import MainWindow

    engine = InProcessEngine()
    win = MainWindow(engine, Settings.load(), dialogs)
    win.camera_panel.probe = list  # tests never open the machine's real cameras
    qtbot.addWidget(win)
    win.configure_engine()
    win.show()
    qtbot.waitUntil(lambda: engine.configured is not None, timeout=30_000)
    assert engine.configured.bundles and not engine.configured.errors
    return win


def two_face_photo(portraits, path: Path) -> Path:
    """Two sample portraits side by side (the larger face on the left), saved as PNG."""
    a = cv2.cvtColor(cv2.imread(str(portraits["grace_hopper"])), cv2.COLOR_BGR2RGB)
    b = cv2.cvtColor(cv2.imread(str(portraits["astronaut"])), cv2.COLOR_BGR2RGB)
    b = cv2.resize(b, (b.shape[1] * 3 // 4, b.shape[0] * 3 // 4))
    canvas = np.full((max(a.shape[0], b.shape[0]), a.shape[1] + b.shape[1], 3), 255, np.uint8)
    canvas[: a.shape[0], : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1] : a.shape[1] + b.shape[1]] = b
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return path


def webcam_frame(portraits, shift: int = 0) -> np.ndarray:
    """A 640x480 RGB frame with the portrait in it, shifted sideways by ``shift`` pixels."""
    face = cv2.cvtColor(cv2.imread(str(portraits["grace_hopper"])), cv2.COLOR_BGR2RGB)
    face = cv2.resize(face, (400, 469))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:469, 120 + shift : 520 + shift] = face
    return frame
