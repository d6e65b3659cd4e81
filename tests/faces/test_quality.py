"""Quality checks respond to what they claim to measure."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dysmorph_desk.faces.align import TEMPLATE, apply_matrix
from dysmorph_desk.faces.quality import (
    QualityLimits,
    assess_quality,
    blur_score,
    exposure,
    head_pose,
)
from dysmorph_desk.faces.types import FaceInfo


def _face(landmarks):
    return FaceInfo(box=(0, 0, 10, 10), landmarks=np.asarray(landmarks, float), score=1.0)


def test_frontal_template_has_no_rotation():
    roll, yaw, pitch = head_pose(TEMPLATE * 200)
    assert (
        abs(roll) < 0.5 and abs(yaw) < 1e-6 and abs(pitch) < 1e-6
    )  # ArcFace eyes are 0.3° off level


def test_roll_is_measured_and_is_never_a_hard_failure():
    a = np.radians(50)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0]])
    lm = apply_matrix(rot, TEMPLATE * 200)
    roll, yaw, pitch = head_pose(lm)
    assert roll == pytest.approx(50, abs=0.5) and abs(yaw) < 1 and abs(pitch) < 1
    img = np.full((224, 224, 3), 128, np.uint8)
    checks = {q.name: q for q in assess_quality(_face(lm), 1.0, img)}
    assert not checks["roll"].passed and not checks["roll"].hard


def test_nose_shift_reads_as_yaw_and_fails_hard_when_large():
    lm = TEMPLATE * 200
    lm[2, 0] += 0.3 * (lm[1, 0] - lm[0, 0])  # nose tip 0.3 inter-ocular distances to the side
    _roll, yaw, _pitch = head_pose(lm)
    assert yaw == pytest.approx(np.degrees(np.arcsin(0.6)), abs=1.0)
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    checks = {q.name: q for q in assess_quality(_face(lm), 1.0, sharp)}
    assert not checks["yaw"].passed and checks["yaw"].hard


def test_blur_score_drops_with_blur():
    rng = np.random.default_rng(0)
    img = cv2.resize(
        rng.integers(0, 255, (56, 56, 3), dtype=np.uint8),
        (224, 224),
        interpolation=cv2.INTER_NEAREST,
    )
    assert blur_score(img) > blur_score(cv2.GaussianBlur(img, (0, 0), 4)) * 10
    assert blur_score(cv2.GaussianBlur(img, (0, 0), 6)) < QualityLimits().min_blur


def test_exposure_and_size_limits():
    dark = np.full((224, 224, 3), 10, np.uint8)
    mean, clipped = exposure(dark)
    assert mean == pytest.approx(10) and clipped == 0
    small = TEMPLATE * 100  # eyes ~25 px apart at full resolution
    checks = {q.name: q for q in assess_quality(_face(small), 1.0, dark)}
    assert not checks["face_size"].passed and checks["face_size"].hard
    assert not checks["brightness_low"].passed and not checks["brightness_low"].hard
    # the same face on a photo decoded at half size is twice as big at full resolution
    checks = {q.name: q for q in assess_quality(_face(small), 0.5, dark)}
    assert checks["face_size"].value == pytest.approx(2 * 0.2454 * 100, rel=0.01)
