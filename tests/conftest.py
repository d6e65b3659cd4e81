"""Shared fixtures. Every test runs with its own DYSMORPH_DESK_HOME, so nothing touches real user folders."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("ddhome")
    monkeypatch.setenv("DYSMORPH_DESK_HOME", str(home))
    return home


def _test_copy(tmp_path_factory, shipped: str, name: str):
    """A shipped demo bundle's graphs and weights under a test card (torch-free, milliseconds)."""
    from dysmorph_desk.bundles.container import read_bundle, write_bundle
    from dysmorph_desk.bundles.format import resolve_bundle

    contents = read_bundle(resolve_bundle(shipped).path)
    contents.signature = ""  # a changed copy is no longer what the demo key signed
    contents.manifest.update(
        name=name,
        threshold=0.5,
        status="demonstration",
        intended_use="tests only",
        training_data={"summary": f"the {shipped} weights under a test card"},
        validation_metrics={"recall": 0.9, "specificity": 0.8, "auc": 0.9},
        age_range_months=[6, 144],
        test_time_variants=None,  # an older card: validated without test-time variants
    )
    path = tmp_path_factory.mktemp("bundles") / f"{name}.ddbundle"
    write_bundle(path, contents)
    return path


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory):
    """``test-hybrid``: the shipped demo hybrid's graphs and weights under a test card.

    Built without torch by rewriting the card of a format-2 bundle (the digest is recomputed), so
    the same fixture serves the full install and the runtime-only one, in milliseconds instead of
    the minutes an LSTM graph export takes.
    """
    return _test_copy(tmp_path_factory, "demo-hybrid", "test-hybrid")


@pytest.fixture(scope="session")
def test_cnn_bundle(tmp_path_factory):
    """``test-mobilenetv2``: the shipped demo MobileNetV2 under a test card (as ``test_bundle``).

    The atypicality tests use it: its 1280-d embedding puts a drawn face far outside ordinary
    faces, where the hybrid's 256-d BiLSTM embedding does not (docs/atypicality.md)."""
    return _test_copy(tmp_path_factory, "demo-mobilenetv2", "test-mobilenetv2")


@pytest.fixture(scope="session")
def portraits():
    """Paths of the shipped sample portraits by stem."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "resources" / "portraits"
    return {p.stem: p for p in root.iterdir() if p.suffix in {".jpg", ".png"}}


@pytest.fixture(scope="session")
def calibration_data(tmp_path_factory):
    """A small synthetic labelled set (20 children per class, 2 photos each) to calibrate with."""
    from dysmorph_desk.training.synthetic import make_synthetic

    root = tmp_path_factory.mktemp("calibration") / "data"
    make_synthetic(root, per_class=20, seed=3, photos_per_identity=2)
    return root


@pytest.fixture(scope="session")
def calibrated_bundle(tmp_path_factory, test_cnn_bundle, calibration_data):
    """``test-mobilenetv2`` with atypicality statistics (``models --calibrate``, torch-free) fitted on
    ``calibration_data``. The aligned-face cache goes to a home of its own: session fixtures run
    before the per-test home is set."""
    from dysmorph_desk.cli.calibrate import calibrate_bundle

    root = tmp_path_factory.mktemp("calibrated")
    out = root / "test-mobilenetv2-calibrated.ddbundle"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DYSMORPH_DESK_HOME", str(root / "home"))
        calibrate_bundle(test_cnn_bundle, calibration_data, out)
    return out
