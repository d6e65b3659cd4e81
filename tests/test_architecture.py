"""The core never imports Qt; the GUI is a layer over it (checked, not hoped for)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dysmorph_desk"
QT = ("PySide6", "PyQt5", "PyQt6", "qtpy", "shiboken6")


def test_no_qt_imports_outside_gui():
    offenders = []
    for f in PKG.rglob("*.py"):
        if "gui" in f.relative_to(PKG).parts:
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in QT for n in names):
                offenders.append(str(f.relative_to(PKG)))
    assert not offenders


def test_cli_and_core_modules_import_without_torch_or_qt():
    code = (
        "import sys; import dysmorph_desk.cli, dysmorph_desk.bundles.cards, dysmorph_desk.screening.results, dysmorph_desk.faces.types, dysmorph_desk.report.options, dysmorph_desk.engine.protocol, dysmorph_desk.settings, dysmorph_desk.nets;"
        "import dysmorph_desk.nets.registry;"
        "bad = [m for m in ('torch', 'PySide6') if m in sys.modules]; print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_screening_path_runs_without_torch(portraits):
    """Load a shipped bundle, detect, screen with Grad-CAM and render a report: torch never loads."""
    code = (
        "import sys\n"
        "from dysmorph_desk.bundles.format import load_bundle, resolve_bundle\n"
        "from dysmorph_desk.faces.detect import FaceDetector\n"
        "from dysmorph_desk.report.render import report_bytes\n"
        "from dysmorph_desk.screening.pipeline import Screener\n"
        "import dysmorph_desk.engine.worker, dysmorph_desk.cli\n"
        "b = load_bundle(resolve_bundle('demo-hybrid').path)\n"
        f"r = Screener([b], FaceDetector()).screen({str(portraits['grace_hopper'])!r})\n"
        "assert r.results[0].heatmap_aligned is not None\n"
        "assert report_bytes(r).startswith(b'%PDF')\n"
        "heavy = ('torch', 'torchvision', 'facenet_pytorch', 'pytorch_grad_cam', 'sklearn', 'matplotlib')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
