"""Metrics against a hand-computed confusion matrix and sklearn; dataset readers; temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    cohen_kappa_score,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from dysmorph_desk.errors import DataError
from dysmorph_desk.training.datasets import read_dataset
from dysmorph_desk.training.loop import fit_temperature
from dysmorph_desk.training.metrics import binary_metrics, youden_threshold
from dysmorph_desk.training.splits import grouped_split


def test_grouped_split_never_puts_a_patient_in_two_parts():
    rng = np.random.default_rng(0)
    groups = [f"P{rng.integers(0, 60)}" for _ in range(400)]
    label_of = {g: int(g[1:]) % 2 for g in set(groups)}
    labels = np.array([label_of[g] for g in groups])
    parts = grouped_split(labels, groups, (0.6, 0.2, 0.2), seed=3)
    assert sum(len(p) for p in parts) == 400
    seen = [{groups[i] for i in p} for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    for p in parts:  # stratified: both classes in every part
        assert set(labels[p]) == {0, 1}
    again = grouped_split(labels, groups, (0.6, 0.2, 0.2), seed=3)
    assert all((a == b).all() for a, b in zip(parts, again, strict=False))


def test_metrics_match_a_hand_computed_confusion_matrix_and_sklearn():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.4, 0.7, 0.6, 0.1, 0.2, 0.3, 0.05, 0.45])
    m = binary_metrics(y, p, 0.5)
    # by hand: predictions >= 0.5 -> 1,1,0,1,1,0,0,0,0,0: tp 3, fn 1, fp 1, tn 5
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 1, 1, 5)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["recall"] == pytest.approx(0.75) and m["specificity"] == pytest.approx(5 / 6)
    assert m["precision"] == pytest.approx(0.75)
    pred = (p >= 0.5).astype(int)
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert m["kappa"] == pytest.approx(cohen_kappa_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred)) and m["precision"] == pytest.approx(
        precision_score(y, pred)
    )
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))


def test_youden_threshold_separates_separable_scores():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    t = youden_threshold(y, p)
    assert binary_metrics(y, p, t)["accuracy"] == 1.0


def test_temperature_scaling_softens_overconfident_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    correct = rng.random(500) < 0.7  # 70 % accurate but logits say ~100 %
    pred = np.where(correct, y, 1 - y)
    logits = np.zeros((500, 2))
    logits[np.arange(500), pred] = 8.0
    t = fit_temperature(logits, y)
    assert t > 3
    p = np.exp(8 / t) / (np.exp(8 / t) + 1)
    assert p == pytest.approx(0.7, abs=0.05)


def test_dataset_readers(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "1.jpg").write_bytes(b"x")
    (tmp_path / "b" / "2.png").write_bytes(b"x")
    samples = read_dataset(tmp_path)
    assert {s.label for s in samples} == {"a", "b"} and len({s.patient_id for s in samples}) == 2
    csv = tmp_path / "list.csv"
    csv.write_text("path,label,patient_id,age_months,sex\na/1.jpg,a,P1,12,female\nb/2.png,b,P1,,\n")
    samples = read_dataset(csv)
    assert (
        samples[0].path == tmp_path / "a" / "1.jpg"
        and samples[0].age_months == 12
        and samples[1].patient_id == "P1"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("file,class\nx,y\n")
    with pytest.raises(DataError, match="needs columns"):
        read_dataset(bad)


def test_dataset_paths_stay_inside_the_data_folder(tmp_path):
    """A labels file cannot make training read /etc/shadow or a file beside the data folder."""
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    (data / "a" / "1.jpg").write_bytes(b"x")
    (tmp_path / "outside.jpg").write_bytes(b"x")
    csv = data / "labels.csv"
    for bad in ("/etc/shadow", "../outside.jpg", str(tmp_path / "outside.jpg")):
        csv.write_text(f"path,label\na/1.jpg,a\n{bad},b\n")
        with pytest.raises(DataError, match="line 3: the photo path leads outside") as info:
            read_dataset(data)
        assert "shadow" not in str(info.value) and "outside.jpg" not in str(info.value)
    (data / "a" / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    csv.write_text("path,label\na/link.jpg,a\n")
    with pytest.raises(DataError, match="outside"):
        read_dataset(data)
    # a folder named with --data-root widens it
    assert len(read_dataset(data, data_root=tmp_path)) == 1
    # class folders: a symlinked photo from outside is skipped
    csv.unlink()
    (data / "b").mkdir()
    (data / "b" / "2.jpg").write_bytes(b"x")
    assert sorted(s.path.name for s in read_dataset(data)) == ["1.jpg", "2.jpg"]


def test_ages_must_be_ages_and_photos_without_patient_ids_stay_apart(tmp_path):
    csv = tmp_path / "list.csv"
    csv.write_text("path,label,age_months\na/1.jpg,a,-3\n")
    with pytest.raises(DataError, match="line 2: age_months '-3'"):
        read_dataset(csv)
    csv.write_text("path,label\nalagille/001.jpg,alagille\ncontrol/001.jpg,control\n")
    a, b = read_dataset(csv)
    assert a.patient_id != b.patient_id  # same file name in two folders: two children


def test_identical_photos_under_two_patient_ids_are_kept_together(tmp_path):
    from pathlib import Path

    from dysmorph_desk.training.data import merge_duplicate_photos
    from dysmorph_desk.training.datasets import Sample

    for name, data in (
        ("a.jpg", b"same"),
        ("b.jpg", b"same"),
        ("c.jpg", b"other"),
        ("d.jpg", b"x"),
    ):
        (tmp_path / name).write_bytes(data)
    samples = [
        Sample(tmp_path / "a.jpg", "ds", "P2"),
        Sample(tmp_path / "b.jpg", "ds", "P9"),
        Sample(tmp_path / "c.jpg", "ds", "P9"),
        Sample(tmp_path / "d.jpg", "control", "P3"),
        Sample(Path(tmp_path / "missing.jpg"), "control", "P4"),
    ]
    merged, n = merge_duplicate_photos(samples)
    assert n == 1
    assert [s.patient_id for s in merged] == [
        "P2",
        "P2",
        "P2",
        "P3",
        "P4",
    ]  # P9's other photo follows it
