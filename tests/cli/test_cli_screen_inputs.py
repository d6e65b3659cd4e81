"""``screen`` from a newcomer's first session: a folder with one bad photo, typos in a path or a
model name, everyday spellings of sex and age.

Paths and names are checked before any model loads (``_load_screener`` is replaced by a loader
that fails the test where nothing may load); a refused photo is named by its position and the
start of its SHA-256, and by its file name only with ``--include-photo-name``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

import dysmorph_desk.cli.screen as cli_screen
from tests.cli_helpers import run

_SCREENERS: dict = {}
SHORT = 12


@pytest.fixture
def no_loading(monkeypatch):
    """Any model load fails the test: what is checked here must be refused before."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model bundle was loaded")

    monkeypatch.setattr(cli_screen, "_load_screener", refuse)


@pytest.fixture
def loading(monkeypatch):
    """The real loader, its Screener kept for the module's later tests (same bundle file)."""
    real = cli_screen._load_screener
    calls: list[tuple] = []

    def cached(model_names, device_pref, runtime="onnx", allow_unvalidated=False):
        from dysmorph_desk.settings import Settings

        key = (tuple(model_names or ()), device_pref, runtime, allow_unvalidated)
        calls.append(key)
        if key not in _SCREENERS:
            _SCREENERS[key] = real(model_names, device_pref, runtime, allow_unvalidated)[0]
        return _SCREENERS[key], Settings.load()

    monkeypatch.setattr(cli_screen, "_load_screener", cached)
    return calls


@pytest.fixture
def visit_folder(tmp_path, portraits) -> Path:
    """A newcomer's folder: one good photo, one truncated JPEG, a hidden copy and a text file."""
    folder = tmp_path / "visit"
    folder.mkdir()
    shutil.copy(portraits["grace_hopper"], folder / "good.jpg")
    data = portraits["grace_hopper"].read_bytes()
    (folder / "broken.jpg").write_bytes(data[: len(data) // 3])
    shutil.copy(portraits["grace_hopper"], folder / ".good-copy.jpg")  # hidden: left out
    (folder / "notes.txt").write_text("not a photo\n", encoding="utf-8")  # not a photo suffix
    return folder


# --- checked before any model loads ---------------------------------------------------------------


def test_a_missing_photo_is_refused_without_loading_a_model(capsys, tmp_path, no_loading):
    code, out, err = run(capsys, "screen", tmp_path / "typo.jpg", "--json", "-")
    assert code == 3, err
    assert "photo 1/1: refused: file not found" in err and "screening photo" not in err
    doc = json.loads(out)
    assert doc["photos"] == [] and doc["refused"] == [{"photo": 1, "reason": "file not found"}]
    assert "typo" not in err  # a path can identify a patient: shown only when asked


def test_an_empty_folder_is_refused_without_loading_a_model(capsys, tmp_path, no_loading):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jpg").write_bytes(b"x")
    code, out, err = run(capsys, "screen", tmp_path)
    assert code == 3, err
    assert "photo 1/1: refused: a folder with no photos" in err and "--recursive" in err
    assert "1 refused (photo 1)" in out


def test_an_unknown_model_name_suggests_the_nearest_and_exits_2(capsys, tmp_path, no_loading):
    photo = tmp_path / "x.jpg"
    photo.write_bytes(b"x")
    for argv in (("screen", photo), ("demo", "--out", tmp_path / "d.pdf")):
        code, out, err = run(capsys, *argv, "--model", "demo-hybird")
        assert code == 2 and out == "", err
        (line,) = err.splitlines()
        assert line.startswith("dysmorph-desk: error: --model 'demo-hybird'")
        assert "did you mean 'demo-hybrid'?" in line
    code, _, err = run(capsys, "screen", photo, "--model", "Demo-Hybrid")
    assert code == 2 and "did you mean 'demo-hybrid'?" in err  # another case: the same hint
    code, _, err = run(capsys, "screen", photo, "--model", "zzzz")
    assert code == 2 and "installed: " in err and "demo-hybrid" in err and "did you mean" not in err


def test_a_missing_bundle_path_is_still_a_bundle_error(capsys, portraits):
    code, _, err = run(capsys, "screen", portraits["grace_hopper"], "--model", "/nowhere.ddbundle")
    assert code == 4 and "not found" in err


def test_a_bad_face_option_is_refused_before_loading(capsys, portraits, no_loading):
    code, _, err = run(capsys, "screen", portraits["grace_hopper"], "--face", "0")
    assert code == 2 and "--face" in err


# --- a folder with one bad photo ------------------------------------------------------------------


def test_a_folder_with_one_bad_photo(capsys, tmp_path, visit_folder, test_bundle, loading):
    out_dir = tmp_path / "out"
    argv = ("screen", visit_folder, "--model", test_bundle, "--cam", "none", "--out-dir", out_dir)
    code, out, err = run(capsys, *argv)
    assert code == 3, err
    assert "path 1 of 1 is a folder: photos 1-2 of 2" in err  # broken.jpg, good.jpg: by name
    digest = hashlib.sha256((visit_folder / "broken.jpg").read_bytes()).hexdigest()[:SHORT]
    refusal = next(line for line in err.splitlines() if "refused" in line)
    assert re.fullmatch(rf"photo 1/2: refused: .*truncated.* \(sha256 {digest}\)", refusal)
    assert "broken" not in err and "good" not in err  # no file names unless asked
    assert out.strip().splitlines()[-1].startswith("screened 1 of 2 photo(s); 1 refused (photo 1)")
    assert sorted(p.name for p in out_dir.iterdir()) == ["good.json", "good.pdf", "summary.csv"]
    rows = list(csv.DictReader(io.StringIO((out_dir / "summary.csv").read_text("utf-8"))))
    assert [r["photo"] for r in rows] == ["1", "2"] and rows[0]["reason"] and not rows[1]["reason"]

    code, _, err = run(capsys, *argv, "--force", "--include-photo-name")
    assert code == 3
    assert "photo 1/2 (broken.jpg): refused: " in err and f"(sha256 {digest})" in err
    assert "is a folder (visit): photos 1-2 of 2" in err


def test_a_missing_path_among_good_ones_keeps_its_place(
    capsys, tmp_path, portraits, test_bundle, loading
):
    argv = ("screen", tmp_path / "typo.jpg", portraits["grace_hopper"], "--json", "-")
    code, out, err = run(capsys, *argv, "--model", test_bundle, "--cam", "none")
    assert code == 3, err
    assert err.index("photo 1/2: refused: file not found") < err.index("screening photo 2/2")
    doc = json.loads(out)
    assert [r["photo"] for r in doc["refused"]] == [1] and len(doc["photos"]) == 1
    assert len(loading) == 1  # the good photo was screened: the model loaded once


def test_recursive_reaches_subfolders(capsys, tmp_path, portraits, test_bundle, loading):
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(portraits["grace_hopper"], tmp_path / "a" / "b" / "deep.jpg")
    base = ("screen", tmp_path / "a", "--model", test_bundle, "--cam", "none")
    code, _, err = run(capsys, *base)
    assert code == 3 and "--recursive" in err and not loading
    code, out, err = run(capsys, *base, "--recursive")
    assert code == 0, err
    assert "screened 1 of 1 photo(s); 0 refused" in out


# --- spellings, end to end ------------------------------------------------------------------------


def test_sex_and_age_spellings_reach_the_result(capsys, portraits, test_bundle, loading):
    argv = ("screen", portraits["grace_hopper"], "--model", test_bundle, "--cam", "none")
    code, out, err = run(capsys, *argv, "--sex", "F", "--age", "2y6m", "--json", "-")
    assert code == 0, err
    case = json.loads(out)["photos"][0]["case"]
    assert case["sex"] == "female" and case["age_months"] == 30
