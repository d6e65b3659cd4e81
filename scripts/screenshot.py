"""Render a screenshot of the main window with results, for the README.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--tab heatmap|photo|compare]

Runs offscreen (no display needed): screens the bundled sample portrait with the shipped
demonstration bundle (or, when none is installed yet, a random-weight bundle made on the fly,
which the screenshot's model name says), then saves ``window.grab()``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABS = {"photo": 0, "camera": 1, "heatmap": 2, "compare": 3}


def _ensure_fonts() -> None:
    """Offscreen Qt on a bare machine may have no system fonts: use the shipped DejaVu Sans."""
    from PySide6.QtGui import QFont, QFontDatabase
    from PySide6.QtWidgets import QApplication

    if QFontDatabase.families():
        return
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        QFontDatabase.addApplicationFont(str(ROOT / "resources" / "fonts" / name))
    QApplication.setFont(QFont("DejaVu Sans", 10))


def _models(home: Path) -> list[str]:
    """The shipped bundles: the README's screenshot shows what a user gets."""
    from dysmorph_desk.bundles.format import find_bundles

    shipped = [b.name for b in find_bundles() if b.source == "shipped"]
    if not shipped:
        raise SystemExit("no shipped bundles in models/; train them first (see the README)")
    return shipped[:3]


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Save a screenshot of the main window with results."
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--tab", choices=tuple(TABS), default="heatmap")
    parser.add_argument("--size", default="1280x800", help="window size WxH")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="dd-shot-") as tmp:
        os.environ["DYSMORPH_DESK_HOME"] = (
            tmp  # fresh settings: no one's clinic name or recent files
        )
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(sys.argv[:1])
        _ensure_fonts()
        from dysmorph_desk.gui.dialogs import Dialogs
        from dysmorph_desk.gui.engine import InProcessEngine
        from dysmorph_desk.gui.main_window import MainWindow
        from dysmorph_desk.settings import AppSection, ReportSection, Settings

        settings = Settings(
            report=ReportSection(clinic_name="Example Clinic"),
            app=AppSection(operator="Dr. Example"),
        )
        engine = InProcessEngine()
        window = MainWindow(engine, settings, Dialogs(), models=_models(Path(tmp)))
        w, h = (int(v) for v in args.size.lower().split("x"))
        window.resize(w, h)
        window.configure_engine()
        window.show()
        window.case_panel.patient_id.setText("DEMO-0001")
        window.case_panel.age.setValue(96)
        window.case_panel.sex.setCurrentIndex(window.case_panel.sex.findData("female"))
        shown: list = []
        window.result_shown.connect(shown.append)
        window.screen_failed.connect(lambda msg: sys.exit(f"screening failed: {msg}"))
        window.open_path(ROOT / "resources" / "portraits" / "grace_hopper.jpg")
        deadline = time.monotonic() + 120
        while not shown and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.005)
        if not shown:
            raise SystemExit("no results within 120 s")
        window.tabs.setCurrentIndex(TABS[args.tab])
        for _ in range(20):
            app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.out)):
            raise SystemExit(f"could not write {args.out}")
        window.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
