"""PNG figures: valid files of the promised size, written atomically, without pyplot or Qt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dysmorph_desk.training import plots
from dysmorph_desk.training.evaluation import (
    compare_reader_to_band,
    reader_points,
    reliability_table,
    roc_band,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _pixels(size: tuple[float, float]) -> tuple[int, int]:
    return round(size[0] * plots.DPI), round(size[1] * plots.DPI)


def _check_png(path: Path, size: tuple[float, float]) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG"
        assert im.size == _pixels(size)
        assert len(np.unique(np.asarray(im.convert("L")))) > 10  # something was drawn


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    band = roc_band(y, p, n_boot=200)
    points = reader_points(
        y,
        {
            "SP1": (rng.random(200) < np.where(y == 1, 0.85, 0.2)).astype(int),
            "JP1": (rng.random(200) < np.where(y == 1, 0.6, 0.4)).astype(int),
        },
    )
    return y, p, band, points


def test_roc_plot_with_readers(tmp_path, data):
    _, _, band, points = data
    readers = [(pt, compare_reader_to_band(pt, band)) for pt in points]
    out = plots.plot_roc(
        tmp_path / "roc.png", band, title="ROC", readers=readers, subtitle="pooled folds"
    )
    assert out == tmp_path / "roc.png"
    _check_png(out, plots.ROC_SIZE)
    # a reader who rated no negatives has no point: skipped, not a crash
    nan_reader = reader_points(np.ones(3, int), {"X": np.ones(3)})[0]
    _check_png(
        plots.plot_roc(tmp_path / "roc2.png", band, title="ROC", readers=[(nan_reader, "?")]),
        plots.ROC_SIZE,
    )


def test_confusion_plot(tmp_path):
    out = plots.plot_confusion(
        tmp_path / "cm.png",
        [[30, 2, 1], [3, 40, 5], [0, 4, 50]],
        ["Down", "Williams", "control"],
        title="confusion",
    )
    _check_png(out, plots.confusion_size(3))
    big = plots.plot_confusion(
        tmp_path / "cm8.png",
        np.arange(64).reshape(8, 8),
        [f"class {i}" for i in range(8)],
        title="eight",
    )
    _check_png(big, plots.confusion_size(8))
    with pytest.raises(ValueError):
        plots.plot_confusion(tmp_path / "bad.png", [[1, 2], [3, 4]], ["a", "b", "c"], title="x")
    assert not (tmp_path / "bad.png").exists()


def test_training_curves_tolerate_missing_keys(tmp_path):
    histories = [
        [
            {
                "epoch": e,
                "train_loss": 1 / e,
                "val_loss": 1.1 / e + 0.1,
                "val_accuracy": 1 - 0.4 / e,
            }
            for e in range(1, 8)
        ]
        for _ in range(3)
    ]
    del histories[0][2]["val_loss"]
    histories[1][4]["val_accuracy"] = None
    histories[2] = [
        {"train_loss": 0.9},
        {"train_loss": 0.7, "val_loss": float("nan")},
    ]  # no epochs, no acc
    _check_png(
        plots.plot_training_curves(tmp_path / "curves.png", histories, title="training"),
        plots.CURVES_SIZE,
    )
    _check_png(
        plots.plot_training_curves(tmp_path / "empty.png", [], title="nothing yet"),
        plots.CURVES_SIZE,
    )


def test_reliability_plot(tmp_path, data):
    y, p, _, _ = data
    table = reliability_table(y, p, n_bins=10)
    _check_png(
        plots.plot_reliability(tmp_path / "rel.png", table, title="calibration"),
        plots.RELIABILITY_SIZE,
    )
    sparse = reliability_table([0, 1], [0.05, 0.95], n_bins=10)  # mostly empty bins
    _check_png(
        plots.plot_reliability(tmp_path / "rel2.png", sparse, title="two photos"),
        plots.RELIABILITY_SIZE,
    )


def test_overwriting_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "figs" / "cm.png"
    target.parent.mkdir()
    target.write_bytes(b"old contents")
    plots.plot_confusion(target, [[1, 2], [3, 4]], ["a", "b"], title="first")
    first = target.read_bytes()
    assert first[:8] == PNG_SIGNATURE
    assert [f.name for f in target.parent.iterdir()] == ["cm.png"]
    # a failing plot leaves the previous figure in place
    with pytest.raises(ValueError):
        plots.plot_confusion(target, [[1, 2]], ["a", "b"], title="broken")
    assert target.read_bytes() == first
    plots.plot_confusion(target, [[5, 0], [0, 5]], ["a", "b"], title="second")
    assert target.read_bytes() != first
    assert [f.name for f in target.parent.iterdir()] == ["cm.png"]


def test_plots_never_load_pyplot_or_qt(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        import numpy as np
        from dysmorph_desk.training import plots
        from dysmorph_desk.training.evaluation import reader_points, reliability_table, roc_band
        out = Path({str(tmp_path)!r})
        y = np.array([0, 1] * 20); p = np.linspace(0.05, 0.95, 40)
        band = roc_band(y, p, n_boot=200)
        pt = reader_points(y, {{"R": y}})[0]
        plots.plot_roc(out / "a.png", band, title="t", readers=[(pt, "above")])
        plots.plot_confusion(out / "b.png", [[1, 2], [3, 4]], ["a", "b"], title="t")
        plots.plot_training_curves(out / "c.png", [[{{"epoch": 1, "train_loss": 1.0}}]], title="t")
        plots.plot_reliability(out / "d.png", reliability_table(y, p), title="t")
        bad = sorted(m for m in sys.modules if m == "matplotlib.pyplot" or m.startswith(("PySide", "PyQt")))
        print("BAD", bad)
        print("MPLCONFIGDIR", os.environ["MPLCONFIGDIR"])
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "MPLBACKEND")}
    run = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert run.returncode == 0, run.stderr
    assert "BAD []" in run.stdout
    home = Path(os.environ["DYSMORPH_DESK_HOME"])
    assert f"MPLCONFIGDIR {home / 'cache' / 'matplotlib'}" in run.stdout  # font cache kept in ours
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]
