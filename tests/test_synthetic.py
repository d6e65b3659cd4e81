"""The synthetic demonstration dataset: layout, grouping, determinism, masks, detectability."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dysmorph_desk.errors import UsageError
from dysmorph_desk.training import synthetic as syn

PER_CLASS = 6
SEED = 3


def _rows(out_dir: Path) -> list[dict[str, str]]:
    with open(out_dir / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _mask_path(out_dir: Path, rel: str) -> Path:
    return out_dir / rel.replace("images/", "masks/", 1).replace(".jpg", ".png")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "set"
    calls: list[tuple[int, int]] = []
    summary = syn.make_synthetic(
        out,
        PER_CLASS,
        seed=SEED,
        photos_per_identity=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    return out, summary, calls


@pytest.fixture(scope="module")
def detector():
    from dysmorph_desk.faces.detect import FaceDetector

    return FaceDetector()


def test_layout_and_csv(dataset):
    out, summary, calls = dataset
    with open(out / "labels.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == "path,label,patient_id,age_months,sex"
    rows = _rows(out)
    assert len(rows) == summary.n_images == 2 * PER_CLASS
    assert summary.per_class == PER_CLASS and summary.seed == SEED
    for cls in syn.CLASSES:
        assert sum(r["label"] == cls for r in rows) == PER_CLASS
    for r in rows:
        assert re.fullmatch(rf"images/{r['label']}/\d{{5}}\.jpg", r["path"])
        assert (out / r["path"]).is_file()
        assert _mask_path(out, r["path"]).is_file()
    assert len({r["path"] for r in rows}) == len(rows)
    readme = (out / "README.txt").read_text(encoding="utf-8").lower()
    assert "synthetic" in readme and "demonstration only" in readme
    assert calls[-1] == (summary.n_images, summary.n_images)
    assert [c[0] for c in calls] == list(range(1, summary.n_images + 1))


def test_patients_group_photos(dataset):
    out, summary, _ = dataset
    by_patient: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in _rows(out):
        by_patient[r["patient_id"]].append(r)
    assert len(by_patient) == summary.n_identities == 2 * 2  # 6 per class at 3 photos each
    for pid, rows in by_patient.items():
        assert re.fullmatch(r"SYN-\d{4}", pid)
        assert len(rows) == 3
        assert len({r["label"] for r in rows}) == 1
        assert len({r["age_months"] for r in rows}) == 1
        assert len({r["sex"] for r in rows}) == 1
        assert 6 <= int(rows[0]["age_months"]) <= 144
        assert rows[0]["sex"] in ("female", "male")


def test_deterministic_and_seed_dependent(dataset, tmp_path):
    out, _, _ = dataset
    again = tmp_path / "again"
    syn.make_synthetic(again, PER_CLASS, seed=SEED, photos_per_identity=3)
    assert (again / "labels.csv").read_bytes() == (out / "labels.csv").read_bytes()
    for r in _rows(out):
        assert (again / r["path"]).read_bytes() == (out / r["path"]).read_bytes()
        assert _mask_path(again, r["path"]).read_bytes() == _mask_path(out, r["path"]).read_bytes()
    other = tmp_path / "other"
    syn.make_synthetic(other, 2, seed=SEED + 1, photos_per_identity=1)
    first = _rows(out)[0]["path"]
    assert (other / "labels.csv").read_bytes() != (out / "labels.csv").read_bytes()
    other_first = _rows(other)[0]["path"]
    assert (other / other_first).read_bytes() != (out / first).read_bytes()


def test_masks_match_images(dataset):
    out, _, _ = dataset
    for r in _rows(out):
        img = cv2.imread(str(out / r["path"]))
        mask = cv2.imread(str(_mask_path(out, r["path"])), cv2.IMREAD_UNCHANGED)
        assert img is not None and mask is not None
        assert mask.dtype == np.uint8 and mask.shape == img.shape[:2]
        assert set(np.unique(mask).tolist()) <= {0, 255}
        assert (mask > 0).sum() > 500
        assert min(img.shape[:2]) >= 360 and max(img.shape[:2]) <= 640


def test_canonical_change_regions():
    canon = syn.canonical_landmarks()
    eyes_nose = np.round(canon[:3]).astype(int)
    for i in range(6):
        for strength in (0.0, 1.0):
            rng = np.random.default_rng(i)
            m = syn.class_warp("syndromic_like", canon, strength, rng).changed_mask()
            assert m.shape == (syn.CANVAS, syn.CANVAS)
            assert all(m[y, x] == 255 for x, y in eyes_nose)
            m = syn.class_warp("control", canon, strength, rng).changed_mask()
            assert m.any()
            assert all(m[y, x] == 0 for x, y in eyes_nose)
    with pytest.raises(ValueError):
        syn.class_warp("other", canon, 0.5, np.random.default_rng(0))


def test_class_changes_move_the_eyes_only_for_syndromic():
    canon = syn.canonical_landmarks()
    rng = np.random.default_rng(1)
    moved = syn.class_warp("syndromic_like", canon, 0.0, rng).forward(canon)
    iod0 = np.linalg.norm(canon[1] - canon[0])
    assert np.linalg.norm(moved[1] - moved[0]) > iod0 * 1.1  # wider-set eyes
    assert moved[2, 1] < canon[2, 1]  # shorter nose
    moved = syn.class_warp("control", canon, 1.0, rng).forward(canon)
    assert np.abs(moved[:3] - canon[:3]).max() < 0.5


def test_control_and_syndromic_change_similar_areas():
    areas = {}
    for label in syn.CLASSES:
        rng = np.random.default_rng(11)
        areas[label] = np.mean(
            [(syn.make_identity("SYN-0000", label, rng).mask > 0).sum() for _ in range(8)]
        )
    ratio = areas["control"] / areas["syndromic_like"]
    assert 0.5 <= ratio <= 2.0


def test_detector_finds_faces_and_syndromic_eyes_in_mask(dataset, detector):
    out, _, _ = dataset
    rows = _rows(out)
    found = 0
    for r in rows:
        rgb = cv2.cvtColor(cv2.imread(str(out / r["path"])), cv2.COLOR_BGR2RGB)
        faces = detector.detect(rgb)
        if not faces:
            continue
        found += 1
        if r["label"] != "syndromic_like":
            continue
        mask = cv2.imread(str(_mask_path(out, r["path"])), cv2.IMREAD_GRAYSCALE)
        # Distance (px) from each pixel to the nearest masked pixel.
        dist = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 5)
        face = faces[0]
        for x, y in face.landmarks[:2]:
            xi = int(np.clip(round(x), 0, mask.shape[1] - 1))
            yi = int(np.clip(round(y), 0, mask.shape[0] - 1))
            assert dist[yi, xi] <= 0.1 * face.size, (r["path"], x, y)
    assert found >= 0.9 * len(rows)


def test_known_portrait_landmarks_match_detector(detector):
    for name, data in syn._portrait_files():
        known = syn._KNOWN_LANDMARKS.get(hashlib.sha256(data).hexdigest())
        assert known is not None, f"{name} changed: update _KNOWN_LANDMARKS"
        faces = detector.detect(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
        assert faces and np.abs(faces[0].landmarks - np.array(known)).max() < 3.0


def test_refuses_non_empty_out_dir(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(UsageError):
        syn.make_synthetic(tmp_path, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    with pytest.raises(UsageError):
        syn.make_synthetic(tmp_path / "new", 0)
    empty = tmp_path / "empty"
    empty.mkdir()
    summary = syn.make_synthetic(empty, 1, photos_per_identity=1)
    assert summary.n_images == 2 and summary.n_identities == 2


def test_wide_variation_is_deterministic_and_more_varied(tmp_path, detector):
    """``variation="wide"``: same seed, same files; children differ more than in the narrow set;
    the class change is still where the mask says (syndromic eyes inside it); faces detectable."""
    wide = tmp_path / "wide"
    summary = syn.make_synthetic(wide, 6, seed=SEED, photos_per_identity=2, variation="wide")
    assert summary.n_images == 12 and "wide identity variation" in summary.description
    assert "Identity variation: wide" in (wide / "README.txt").read_text(encoding="utf-8")
    again = tmp_path / "again"
    syn.make_synthetic(again, 6, seed=SEED, photos_per_identity=2, variation="wide")
    for r in _rows(wide):
        assert (again / r["path"]).read_bytes() == (wide / r["path"]).read_bytes()
    narrow = tmp_path / "narrow"
    syn.make_synthetic(narrow, 6, seed=SEED, photos_per_identity=2)
    assert (narrow / _rows(narrow)[0]["path"]).read_bytes() != (
        wide / _rows(wide)[0]["path"]
    ).read_bytes()

    # Each child's recipe names its own region blends and looks (the narrow set: one blend).
    with open(wide / "identities.csv", newline="", encoding="utf-8") as fh:
        recipes = [r["recipe"] for r in csv.DictReader(fh)]
    assert len(recipes) == 6 and all("eyes" in r and "mouth" in r for r in recipes)
    assert len(set(recipes)) == 6
    found = sum(
        bool(detector.detect(cv2.cvtColor(cv2.imread(str(wide / r["path"])), cv2.COLOR_BGR2RGB)))
        for r in _rows(wide)
    )
    assert found >= 10
    with pytest.raises(UsageError):
        syn.make_synthetic(tmp_path / "bad", 1, variation="extreme")
