"""Fixtures of the gallery tests: the gallery CLI, and tiny synthetic photo sets (a labelled one whose
label is an OMIM id, and unrelated children) for the end-to-end tests. Factories: ``helpers.py``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.gallery.helpers import with_gallery_command


@pytest.fixture
def gallery_cli(monkeypatch):
    """``dysmorph-desk gallery ...`` through ``cli.main`` (``tests/cli_helpers.run``)."""
    from dysmorph_desk import cli

    monkeypatch.setattr(cli, "build_parser", with_gallery_command(cli.build_parser))


@pytest.fixture(scope="session")
def omim_data(tmp_path_factory) -> Path:
    """Synthetic portraits: "syndromic_like" children labelled OMIM:163950 (with a disorder_name
    column), controls kept as "control" (the tests exclude them). 4 photos of 2 children each."""
    from dysmorph_desk.training.synthetic import make_synthetic

    root = tmp_path_factory.mktemp("gallery-data") / "data"
    make_synthetic(root, per_class=4, seed=11, photos_per_identity=2)
    with (root / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, [*rows[0].keys(), "disorder_name"], lineterminator="\n")
        w.writeheader()
        for r in rows:
            if r["label"] == "syndromic_like":
                r["label"] = "OMIM:163950"
            w.writerow(
                {**r, "disorder_name": "Noonan syndrome 1" if r["label"] != "control" else ""}
            )
    return root


@pytest.fixture(scope="session")
def unrelated_data(tmp_path_factory) -> Path:
    """20 synthetic children, one photo each: the unrelated children of a calibration."""
    from dysmorph_desk.training.synthetic import make_synthetic

    root = tmp_path_factory.mktemp("gallery-unrelated") / "data"
    make_synthetic(root, per_class=10, seed=23, photos_per_identity=1)
    return root
