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


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory):
    """``test-hybrid``: the shipped demo hybrid's graphs and weights under a test card.

    Built without torch by rewriting the card of a format-2 bundle (the digest is recomputed), so
    the same fixture serves the full install and the runtime-only one, in milliseconds instead of
    the minutes an LSTM graph export takes.
    """
    from dysmorph_desk.bundles.container import read_bundle, write_bundle
    from dysmorph_desk.bundles.format import resolve_bundle

    contents = read_bundle(resolve_bundle("demo-hybrid").path)
    contents.signature = ""  # a changed copy is no longer what the demo key signed
    contents.manifest.update(
        name="test-hybrid",
        threshold=0.5,
        status="demonstration",
        intended_use="tests only",
        training_data={"summary": "the demo-hybrid weights under a test card"},
        validation_metrics={"recall": 0.9, "specificity": 0.8, "auc": 0.9},
        age_range_months=[6, 144],
    )
    path = tmp_path_factory.mktemp("bundles") / "test-hybrid.ddbundle"
    write_bundle(path, contents)
    return path


@pytest.fixture(scope="session")
def portraits():
    """Paths of the shipped sample portraits by stem."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "resources" / "portraits"
    return {p.stem: p for p in root.iterdir() if p.suffix in {".jpg", ".png"}}
