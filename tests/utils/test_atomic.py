"""The one atomic writer: all or nothing, even when the writer fails half-way."""

from __future__ import annotations

import pytest

from dysmorph_desk.errors import UsageError
from dysmorph_desk.utils.atomic import open_atomic, write_bytes_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "sub" / "state.bin"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError), open_atomic(target) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.bin"]


def test_streamed_writes_and_force(tmp_path):
    target = tmp_path / "a.txt"
    with open_atomic(target) as fh:
        for chunk in (b"a", b"b", b"c"):
            fh.write(chunk)
    assert target.read_bytes() == b"abc"
    with pytest.raises(UsageError, match=r"^a\.txt exists; use --force to overwrite$"):
        write_text_atomic(target, "x", force=False)
    assert write_text_atomic(target, "x") == target and target.read_text() == "x"


def test_training_checkpoints_use_it(tmp_path):
    torch = pytest.importorskip("torch")
    from dysmorph_desk.training.loop import _load_checkpoint, _save_checkpoint

    path = tmp_path / "ck" / "last.pt"
    _save_checkpoint(path, {"epoch": 3, "w": torch.ones(2)})
    loaded = _load_checkpoint(path)
    assert loaded is not None and loaded["epoch"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]
