"""Fixtures shared by the training tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory):
    """6 synthetic children per class, 2 photos each (a child's photos share a patient_id)."""
    from dysmorph_desk.training.synthetic import make_synthetic

    root = tmp_path_factory.mktemp("synth") / "data"
    make_synthetic(root, per_class=12, seed=11, photos_per_identity=2)
    return root
