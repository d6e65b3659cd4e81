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
def random_bundle(tmp_path_factory):
    """A hybrid bundle with random weights (fast, independent of the shipped demonstration bundles)."""
    import torch

    from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
    from dysmorph_desk.bundles.format import save_bundle
    from dysmorph_desk.faces.align import template_description
    from dysmorph_desk.nets import create_model, get_arch

    torch.manual_seed(0)
    spec = get_arch("mobilenetv2_bilstm")
    card = ModelCard(
        name="test-hybrid",
        architecture=spec.name,
        classes=[
            ClassInfo("syndromic_like", "Syndromic-like", True),
            ClassInfo("control", "Control", False),
        ],
        input_size=224,
        mean=spec.mean,
        std=spec.std,
        alignment_template=template_description(),
        threshold=0.5,
        status="demonstration",
        intended_use="tests only",
        training_data={"summary": "random weights"},
        validation_metrics={"recall": 0.9, "specificity": 0.8, "auc": 0.9},
        age_range_months=(6, 144),
    )
    path = tmp_path_factory.mktemp("bundles") / "test-hybrid.ddbundle"
    return save_bundle(path, create_model(spec.name, 2), card).path


@pytest.fixture(scope="session")
def portraits():
    """Paths of the shipped sample portraits by stem."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "resources" / "portraits"
    return {p.stem: p for p in root.iterdir() if p.suffix in {".jpg", ".png"}}
