"""Run by test_engine.py in a fresh interpreter: the real app window with the real worker process.

Opens a photo, waits for the results, types an HPO feature into the Differential tab (searched in
the worker), adds the first hit, waits for the ranking, exports the PDF report, then prints a JSON
summary (including whether torch or the HPO ontology was ever imported in this, the GUI, process).
"""

from __future__ import annotations

import json
import sys
import time


def main(photo: str, pdf: str) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from dysmorph_desk.gui.dialogs import Dialogs
    from dysmorph_desk.gui.engine import EngineClient
    from dysmorph_desk.gui.main_window import MainWindow
    from dysmorph_desk.gui.qtutil import StallMonitor

    out: dict = {"errors": []}

    class AnsweringDialogs(Dialogs):
        def error(self, parent, title, message, details=""):
            out["errors"].append(message)
            app.quit()

        def info(self, parent, title, message):
            out["errors"].append(message)

        def save_export(self, parent, title, default, name_filter):
            return pdf

        def ask(self, parent, kind, question):
            return "discard" if kind.startswith("unsaved") else "cancel"

        def report_saved(self, parent, path):
            out["pdf"] = path
            app.quit()
            return False

    app = QApplication([])
    t0 = time.perf_counter()
    engine = EngineClient()
    engine.start()
    window = MainWindow(engine, dialogs=AnsweringDialogs())
    window.configure_engine()
    window.show()
    monitor = StallMonitor()
    monitor.start()

    def on_result(result) -> None:
        out["seconds_to_result"] = round(time.perf_counter() - t0, 2)
        out["models"] = [r.model for r in result.results]
        out["heatmap"] = result.results[0].heatmap_aligned is not None
        out["torch_in_gui_process"] = "torch" in sys.modules
        out["model_widgets"] = len(window.results_view.model_widgets)
        window.tabs.setCurrentWidget(window.differential)
        QTest.keyClicks(window.differential.entry.edit, "wide-set eyes")
        poll.start()

    def add_first_hit() -> None:  # the worker's hits have arrived: Enter adds the first
        entry = window.differential.entry
        if entry.suggestions.count():
            poll.stop()
            out["hpo_hit"] = entry.suggestions.item(0).text()
            QTest.keyClick(entry.edit, Qt.Key.Key_Return)

    def on_ranked(diff) -> None:
        out["differential_rows"] = len(diff.rows)
        out["hpo_terms"] = [t.id for t in diff.hpo_terms]
        window.export_pdf()

    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(add_first_hit)
    window.differential.ranked.connect(on_ranked)

    window.result_shown.connect(on_result)
    window.open_path(photo)
    QTimer.singleShot(90_000, app.quit)
    app.exec()
    out["worst_stall_ms"] = round(monitor.worst_ms, 1)
    out["torch_in_gui_process"] = out.get("torch_in_gui_process", False) or "torch" in sys.modules
    out["ontology_in_gui_process"] = "dysmorph_desk.phenotype" in sys.modules
    window.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
