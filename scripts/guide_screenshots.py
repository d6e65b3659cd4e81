"""Make the user guide's screenshots from the real app, so they show what the app shows today.

    .venv/bin/python scripts/guide_screenshots.py [--out resources/guide/images] [--width 1000]

Runs offscreen (no display needed, ``QT_QPA_PLATFORM=offscreen``), with a fresh, empty settings
folder (no one's clinic name, recent files or case store), the shipped demonstration bundles and
the shipped sample portrait; the engine runs in process. It saves, at a fixed size:
(differential.png: the Differential tab ranked against the shipped demonstration gallery with two
HPO terms; the other shots below)

* ``main-window.png``: the main window with the results of every shipped model;
* ``heatmap.png``: the same window on the Heatmap tab;
* ``models.png``: the Models dialog.

Widgets are found by what the user sees (tab titles, action texts, dialog types) rather than by
attribute names, so small changes to the window do not break it; a picture that cannot be made is
reported and the script exits 1. Each PNG is written optimised, and reduced to a 256-colour palette
when that is what keeps it under ``--max-kb``. Run ``scripts/build_guide.py`` afterwards only when
image names changed (the pages refer to these three names).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "resources" / "guide" / "images"
PORTRAIT = ROOT / "resources" / "portraits" / "grace_hopper.jpg"
WINDOW_SIZE = (1000, 660)  # logical pixels; the offscreen platform grabs at 1 device pixel each
WAIT_S = 180.0  # first results: three bundles' sessions are created on a slow shared CPU

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _ensure_fonts() -> None:
    """Offscreen Qt on a bare machine may have no system fonts: use the shipped DejaVu Sans."""
    from PySide6.QtGui import QFont, QFontDatabase
    from PySide6.QtWidgets import QApplication

    if not QFontDatabase.families():
        for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
            QFontDatabase.addApplicationFont(str(ROOT / "resources" / "fonts" / name))
    QApplication.setFont(QFont("DejaVu Sans", 9))


def _pump(app: Any, until: Callable[[], bool] | None = None, timeout: float = 2.0) -> bool:
    """Run the event loop until ``until()`` holds (or, without it, for a short settling time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.01)
    return until is None


def _plain(text: str) -> str:
    return text.replace("&", "").strip().lower()


def _show_tab(window: Any, title: str) -> bool:
    """Select the tab whose visible title starts with ``title`` in any tab widget of the window."""
    from PySide6.QtWidgets import QTabWidget

    for tabs in window.findChildren(QTabWidget):
        for i in range(tabs.count()):
            if _plain(tabs.tabText(i)).startswith(title.lower()):
                tabs.setCurrentIndex(i)
                return True
    return False


def _trigger(window: Any, text: str) -> bool:
    """Trigger the window's action whose visible text starts with ``text`` (e.g. "Models")."""
    from PySide6.QtGui import QAction

    for action in window.findChildren(QAction):
        if _plain(action.text()).startswith(text.lower()) and action.isEnabled():
            action.trigger()
            return True
    return False


def _fill_case(window: Any) -> None:
    """A pseudonymous example case, where the case panel has the usual fields."""
    panel = getattr(window, "case_panel", None)
    for name, setter, value in (
        ("patient_id", "setText", "DEMO-0001"),
        ("age", "setValue", 96),
    ):
        widget = getattr(panel, name, None)
        if widget is not None and hasattr(widget, setter):
            getattr(widget, setter)(value)
    sex = getattr(panel, "sex", None)
    if sex is not None and hasattr(sex, "findData") and sex.findData("female") >= 0:
        sex.setCurrentIndex(sex.findData("female"))


def _answering_dialogs(problems: list[str]) -> Any:
    """``Dialogs`` that never block: the offscreen run cannot click a modal box.

    A question gets the answer that keeps the example case going ("same" patient, "discard" on
    closing), else its default; an error or a notice is recorded as a problem.
    """
    from dysmorph_desk.gui.dialogs import Dialogs

    class AnsweringDialogs(Dialogs):
        def ask(self, parent: Any, kind: str, question: Any) -> str:
            answers = [choice[0] for choice in question.choices]
            return next((a for a in ("same", "discard") if a in answers), question.default)

        def error(self, parent: Any, title: str, message: str, details: str = "") -> None:
            problems.append(f"{title}: {message}")

        def info(self, parent: Any, title: str, message: str) -> None:
            problems.append(f"{title}: {message}")

        def confirm(self, parent: Any, title: str, message: str) -> bool:
            return False

    return AnsweringDialogs()


def save_png(image: Any, path: Path, width: int, max_kb: int) -> int:
    """Save a QImage/QPixmap as an optimised PNG ``width`` px wide; a palette when that is needed."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    pil = Image.open(io.BytesIO(buffer.data().data())).convert("RGB")
    if pil.width != width:
        pil = pil.resize((width, round(pil.height * width / pil.width)), Image.Resampling.LANCZOS)
    data = _png_bytes(pil)
    if len(data) > max_kb * 1024:
        data = _png_bytes(
            pil.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        )
    from dysmorph_desk.utils.atomic import write_bytes_atomic

    write_bytes_atomic(path, data)
    return len(data)


def _png_bytes(pil: Any) -> bytes:
    out = io.BytesIO()
    pil.save(out, "PNG", optimize=True)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the user guide's screenshots.")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--width", type=int, default=WINDOW_SIZE[0], help="PNG width in pixels")
    parser.add_argument("--max-kb", type=int, default=150, help="largest PNG before a palette")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="dd-guide-shots-") as home:
        os.environ["DYSMORPH_DESK_HOME"] = home  # fresh settings, empty case store
        return _shoot(args.out, args.width, args.max_kb)


def _shoot(out: Path, width: int, max_kb: int) -> int:
    from PySide6.QtWidgets import QApplication, QDialog

    app = QApplication.instance() or QApplication(sys.argv[:1])
    _ensure_fonts()
    from dysmorph_desk.bundles.format import find_bundles
    from dysmorph_desk.gui.engine import InProcessEngine
    from dysmorph_desk.gui.main_window import MainWindow
    from dysmorph_desk.settings import AppSection, ReportSection, Settings

    models = [b.name for b in find_bundles() if b.source == "shipped"]
    if not models:
        print("no shipped bundles in models/", file=sys.stderr)
        return 1
    settings = Settings(
        report=ReportSection(clinic_name="Example Clinic"), app=AppSection(operator="Dr. Example")
    )
    problems: list[str] = []
    window = MainWindow(InProcessEngine(), settings, _answering_dialogs(problems), models=models)
    window.discard_on_close = True  # never ask about the example case when closing
    window.resize(*WINDOW_SIZE)
    window.configure_engine()
    window.show()
    _fill_case(window)
    shown: list[Any] = []
    failed: list[str] = []
    window.result_shown.connect(shown.append)
    window.screen_failed.connect(failed.append)
    window.open_path(PORTRAIT)
    if not _pump(app, lambda: bool(shown or failed), WAIT_S) or failed:
        print(
            f"no results: {failed[0] if failed else f'none within {WAIT_S:.0f} s'}", file=sys.stderr
        )
        return 1
    out.mkdir(parents=True, exist_ok=True)

    def shot(name: str, widget: Any) -> None:
        _pump(app, timeout=1.0)
        size = save_png(widget.grab(), out / name, width, max_kb)
        print(f"{out / name}: {size // 1024} KB")

    if not _show_tab(window, "photo"):
        problems.append("no Photo tab")
    shot("main-window.png", window)
    if _show_tab(window, "heatmap"):
        shot("heatmap.png", window)
    else:
        problems.append("no Heatmap tab")
    if _show_tab(window, "differential"):
        panel = window.differential
        ranked: list[Any] = []
        panel.ranked.connect(ranked.append)
        if panel.demo_gallery_button.isVisibleTo(panel):
            panel.demo_gallery_button.click()
        panel.entry.add_term("HP:0000316", "Hypertelorism")
        panel.entry.add_term("HP:0000494", "Downslanted palpebral fissures")
        panel.rank()
        if _pump(app, lambda: bool(ranked), WAIT_S):
            shot("differential.png", window)
        else:
            problems.append("the Differential tab ranked nothing")
    else:
        problems.append("no Differential tab")
    if _trigger(window, "models"):

        def open_dialogs() -> list[Any]:
            return [
                d
                for d in QApplication.topLevelWidgets()
                if isinstance(d, QDialog) and d.isVisible()
            ]

        _pump(app, lambda: bool(open_dialogs()))
        dialogs = open_dialogs()
        if dialogs:
            shot("models.png", dialogs[0])  # at the size the app gives it
            dialogs[0].close()
        else:
            problems.append("the Models action opened no dialog")
    else:
        problems.append("no Models action")
    window.close()
    for problem in problems:
        print(f"not made: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
