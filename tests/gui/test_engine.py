"""The engine worker process for real: end to end without torch in the GUI process, a crashed
worker is noticed and restarted, cancellation, and the ``app`` subcommand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from dysmorph_desk.engine import protocol as p
from dysmorph_desk.engine.worker import WorkerCore
from dysmorph_desk.gui.engine import EngineClient
from dysmorph_desk.screening.options import ScreenOptions

HERE = Path(__file__).resolve().parent


def test_real_worker_end_to_end_and_no_torch_in_the_gui_process(
    installed_bundle, portraits, tmp_path
):
    pdf = tmp_path / "e2e.pdf"
    proc = subprocess.run(
        [sys.executable, str(HERE / "_e2e_app.py"), str(portraits["grace_hopper"]), str(pdf)],
        check=False,
        capture_output=True,
        text=True,
        timeout=150,
        cwd=HERE.parents[1],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not out["errors"], out
    assert out["models"] == ["test-hybrid"] and out["heatmap"] and out["model_widgets"] == 1
    assert out["torch_in_gui_process"] is False
    assert out["hpo_hit"].startswith("Hypertelorism  (HP:0000316)")  # searched in the worker
    assert out["hpo_terms"] == ["HP:0000316"] and out["differential_rows"] == 10
    assert out["ontology_in_gui_process"] is False
    assert pdf.read_bytes().startswith(b"%PDF") and out["pdf"] == str(pdf)
    print(
        f"real worker: first result {out['seconds_to_result']} s, worst UI stall {out['worst_stall_ms']} ms"
    )


def test_a_crashed_worker_is_detected_and_restarted(qtbot):
    engine = EngineClient()
    engine.start()
    try:
        first_pid = engine.pid
        replies = []
        engine.replied.connect(replies.append)
        with qtbot.waitSignal(engine.died, timeout=60_000) as died:
            req = engine.submit(p.Crash("segfault"))
        assert "stopped unexpectedly" in died.args[0] and "restarted" in died.args[0]
        assert [(r.req_id, r.ok, r.error_type) for r in replies] == [(req, False, "EngineDied")]
        assert engine.pid != first_pid and engine.state == "ready"
        # the new worker answers
        with qtbot.waitSignal(engine.replied, timeout=60_000) as answer:
            engine.submit(p.Screen(np.zeros((64, 64, 3), np.uint8), "k"))
        assert answer.args[0].error == "the engine is not configured yet"
    finally:
        engine.shutdown()
    assert engine.state == "stopped"


def test_cancel_and_errors_in_the_worker_core(test_bundle, portraits):
    core = WorkerCore()
    sent = []
    conf = core.handle(
        1, p.Configure([str(test_bundle), "no-such-model"]), sent.append, lambda: False
    )
    assert conf.ok and [b.name for b in conf.value.bundles] == ["test-hybrid"]
    assert "no bundle named 'no-such-model'" in conf.value.errors[0]
    cancelled = core.handle(
        2, p.Screen(str(portraits["grace_hopper"]), "a"), sent.append, lambda: True
    )
    assert not cancelled.ok and cancelled.error_type == "Interrupted"
    calls = iter(range(1000))
    late = core.handle(
        3, p.Screen(str(portraits["grace_hopper"]), "a"), sent.append, lambda: next(calls) >= 2
    )  # cancelled mid-way
    assert late.error_type == "Interrupted"
    ok = core.handle(
        4,
        p.Screen(str(portraits["grace_hopper"]), "a", options=ScreenOptions(face_index=1)),
        sent.append,
        lambda: False,
    )
    assert ok.ok and len(ok.value.faces) == 1
    assert [type(m).__name__ for m in sent].count("PhotoReady") == 1  # decoded once, then cached
    bad = core.handle(5, p.Screen(b"not an image", "b"), sent.append, lambda: False)
    assert not bad.ok and bad.error_type == "ImageRefused" and bad.user_error
    preview = core.handle(6, p.Preview(ok.value.result.photo), sent.append, lambda: False)
    assert preview.ok and len(preview.value.faces) == 1


def test_app_subcommand(monkeypatch):
    from dysmorph_desk import cli

    args = cli.build_parser().parse_args(["app", "child.jpg", "--model", "x"])
    assert args.func is cli.cmd_app and args.photo == Path("child.jpg") and args.models == ["x"]
    seen = {}
    import dysmorph_desk.gui.app as gui_app

    monkeypatch.setattr(gui_app, "run_app", lambda *a, **k: seen.update(args=a, kw=k) or 0)
    assert cli.main(["app"]) == 0 and seen["args"][0] is None


def test_export_names_the_held_result_and_never_mixes_cases(test_bundle, portraits, tmp_path):
    """Only an id crosses to the worker for Export PDF: the report carries the result the worker
    computed, with the case on screen, and an unknown id or a changed age is refused."""
    from pypdf import PdfReader

    from dysmorph_desk.report.options import ReportOptions
    from dysmorph_desk.screening.results import CaseInfo

    core, sent = WorkerCore(), []
    assert core.handle(1, p.Configure([str(test_bundle)]), sent.append, lambda: False).ok
    case = CaseInfo(patient_id="P-1", age_months=60)
    screened = core.handle(
        7, p.Screen(str(portraits["grace_hopper"]), "k", case), sent.append, lambda: False
    )
    assert screened.ok and screened.value.result_id == 7
    out = tmp_path / "r.pdf"
    edited = CaseInfo(patient_id="P-1", age_months=60, operator="Dr. B", notes="seen twice")
    ok = core.handle(
        8, p.ExportReport(7, edited, str(out), ReportOptions()), sent.append, lambda: False
    )
    assert ok.ok and ok.value == str(out)
    text = "".join(page.extract_text() for page in PdfReader(str(out)).pages)
    assert "Dr. B" in text and "P-1" in text
    stale = core.handle(
        9, p.ExportReport(6, edited, str(out), ReportOptions()), sent.append, lambda: False
    )
    assert not stale.ok and "no longer held" in stale.error
    older = CaseInfo(patient_id="P-1", age_months=61)
    moved = core.handle(
        10, p.ExportReport(7, older, str(out), ReportOptions()), sent.append, lambda: False
    )
    assert not moved.ok and "age changed" in moved.error
    bad = core.handle(
        11,
        p.ExportReport(7, edited, str(out), ReportOptions(paper="A3")),
        sent.append,
        lambda: False,
    )
    assert not bad.ok and bad.error_type == "UsageError"
