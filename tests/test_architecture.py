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
