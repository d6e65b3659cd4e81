"""Clinicians' calls: matched by path or unique file name; blanks are 'not rated'; doubles refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from dysmorph_desk.errors import DataError
from dysmorph_desk.training.datasets import Sample
from dysmorph_desk.training.evaluate import read_readers


def _samples(root: Path):
    return [
        Sample(root / "images" / "ds" / "a.jpg", "ds", "P1"),
        Sample(root / "images" / "control" / "b.jpg", "control", "P2"),
    ]


def test_calls_match_by_relative_path_or_file_name_and_blanks_are_skipped(tmp_path):
    f = tmp_path / "readers.csv"
    f.write_text(
        "image,reader,call\nimages/ds/a.jpg,SP1,ds\nb.jpg,SP1,ds\nimages/ds/a.jpg,JP1,\nzzz.jpg,JP1,control\n"
    )
    calls, unmatched = read_readers(f, _samples(tmp_path), tmp_path, ["control", "ds"])
    assert calls == {"SP1": {0: "ds", 1: "ds"}} and unmatched == ["zzz.jpg"]


def test_a_reader_rating_an_image_twice_or_an_unknown_class_is_refused(tmp_path):
    f = tmp_path / "readers.csv"
    f.write_text("image,reader,call\nb.jpg,SP1,ds\nimages/control/b.jpg,SP1,control\n")
    with pytest.raises(DataError, match="line 3: reader 'SP1' rated this image twice"):
        read_readers(f, _samples(tmp_path), tmp_path, ["control", "ds"])
    f.write_text("image,reader,call\nb.jpg,SP1,syndrome\n")
    with pytest.raises(DataError, match="calls must be class ids"):
        read_readers(f, _samples(tmp_path), tmp_path, ["control", "ds"])
