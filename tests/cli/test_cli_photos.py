"""``cli/photos.py``: folders expand into their photos; every path is checked without reading it."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from dysmorph_desk.cli.photos import (
    PHOTO_SUFFIXES,
    SHORT_HASH,
    PhotoInput,
    expand_photos,
    file_problem,
    short_hash,
)


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _names(photos: list[PhotoInput], root: Path) -> list[str]:
    return [p.path.relative_to(root).as_posix() for p in photos]


def test_a_folder_gives_its_photos_in_natural_order(tmp_path):
    for name in ("img10.jpg", "img2.JPG", "b.png", "A.heic", "notes.txt", ".hidden.jpg"):
        _touch(tmp_path / name)
    _touch(tmp_path / "._img3.jpg")  # a macOS resource fork: hidden, never a photo
    _touch(tmp_path / "sub" / "deep.jpg")
    photos = expand_photos([tmp_path])
    assert _names(photos, tmp_path) == ["A.heic", "b.png", "img2.JPG", "img10.jpg"]
    assert all(p.refused is None and p.argument == 1 for p in photos)


def test_recursive_adds_subfolders_but_not_hidden_ones(tmp_path):
    _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "sub" / "b.jpg")
    _touch(tmp_path / "sub" / "deeper" / "c.png")
    _touch(tmp_path / ".cache" / "d.jpg")
    photos = expand_photos([tmp_path], recursive=True)
    assert _names(photos, tmp_path) == ["a.jpg", "sub/b.jpg", "sub/deeper/c.png"]


def test_files_and_folders_keep_the_order_given(tmp_path):
    folder = tmp_path / "visit"
    _touch(folder / "2.jpg")
    _touch(folder / "1.jpg")
    first, last = _touch(tmp_path / "z.jpg"), _touch(tmp_path / "scan.weird")
    photos = expand_photos([first, folder, last])
    assert _names(photos, tmp_path) == ["z.jpg", "visit/1.jpg", "visit/2.jpg", "scan.weird"]
    assert [p.argument for p in photos] == [1, 2, 2, 3]  # a named file is taken whatever its suffix


def test_an_empty_folder_is_one_refusal_hinting_at_recursive(tmp_path):
    _touch(tmp_path / "sub" / "a.jpg")
    (photo,) = expand_photos([tmp_path])
    assert photo.path == tmp_path and "folder with no photos" in (photo.refused or "")
    assert "--recursive" in (photo.refused or "")
    (empty,) = expand_photos([_mk(tmp_path / "e")])
    assert "folder" in (empty.refused or "") and "--recursive" not in (empty.refused or "")


def _mk(folder: Path) -> Path:
    folder.mkdir()
    return folder


def test_missing_files_and_dangling_links_are_refused(tmp_path):
    link = tmp_path / "link.jpg"
    link.symlink_to(tmp_path / "gone.jpg")
    photos = expand_photos([tmp_path / "missing.jpg", link])
    assert [p.refused for p in photos] == ["file not found", "file not found"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert file_problem(fifo) == "is a named pipe (FIFO), not a regular file"
    (photo,) = expand_photos([tmp_path])  # inside a folder too: listed, and refused
    assert photo.path == fifo and "named pipe" in (photo.refused or "")


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_a_device_is_refused():
    assert "device" in (file_problem(Path("/dev/null")) or "")


@pytest.mark.skipif(
    sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
    reason="permissions do not bind here",
)
def test_unreadable_files_and_folders_are_refused(tmp_path):
    locked = _touch(tmp_path / "locked.jpg")
    locked.chmod(0)
    shut = _mk(tmp_path / "shut")
    shut.chmod(0)
    try:
        photos = expand_photos([locked, shut])
    finally:
        locked.chmod(0o600)
        shut.chmod(0o700)
    assert photos[0].refused == "permission denied"
    assert "cannot be listed" in (photos[1].refused or "")


def test_a_readable_regular_file_passes():
    assert file_problem(Path(__file__)) is None


def test_short_hash_is_the_start_of_the_sha256(tmp_path):
    photo = _touch(tmp_path / "a.jpg", b"some bytes")
    assert short_hash(photo) == hashlib.sha256(b"some bytes").hexdigest()[:SHORT_HASH]
    assert short_hash(tmp_path / "missing.jpg") is None
    assert short_hash(tmp_path) is None


def test_photo_suffixes_are_the_formats_the_pipeline_opens():
    """Each suffix a folder is searched for maps, in Pillow, to a format faces.image accepts."""
    from PIL import Image

    from dysmorph_desk.faces.image import ACCEPTED_FORMATS, _register_heif

    _register_heif()
    Image.init()
    known = Image.registered_extensions()
    for suffix in PHOTO_SUFFIXES:
        if suffix == ".avif" and suffix not in known:
            continue  # this Pillow was built without AVIF
        assert known.get(suffix) in ACCEPTED_FORMATS, suffix
    assert len(set(PHOTO_SUFFIXES)) == len(PHOTO_SUFFIXES)
    assert all(s == s.lower() and s.startswith(".") for s in PHOTO_SUFFIXES)
