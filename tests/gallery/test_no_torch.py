"""The gallery runs where screening runs: without torch or Qt (it uses the training data reader,
which imports neither)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gallery_modules_and_command_load_neither_torch_nor_qt(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import dysmorph_desk.cli.gallery, dysmorph_desk.training.datasets
        from dysmorph_desk.gallery import calibration, embed, links, ranking, sources, store
        from dysmorph_desk.gallery.model import Gallery
        g = Gallery()
        for i in range(30):
            g.add(f"ORPHA:{{i % 3 + 1}}", "d", f"P{{i}}", {{"a" * 64: ("m", np.random.rand(8))}}, source="data")
        store.write_gallery(g, {str(tmp_path / "g.ddgallery")!r})
        class B:
            sha256, name = "a" * 64, "m"
        r = ranking.rank(np.random.rand(8), store.read_gallery({str(tmp_path / "g.ddgallery")!r}), B())
        calibration.calibrate_threshold(np.random.rand(20, 8), g)
        bad = [m for m in ("torch", "torchvision", "sklearn", "scipy", "PySide6") if m in sys.modules]
        print(bad)
        assert not bad and r.disorders
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
