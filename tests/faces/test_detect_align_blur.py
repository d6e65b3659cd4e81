"""Alignment's anti-aliasing blur covers only the region the warp samples, with the same pixels as
blurring the whole photo (the way align_face did before; kept here as the reference)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from dysmorph_desk.faces.align import align_face, similarity_transform, template_points

# Grace Hopper's five landmarks as MTCNN finds them in the shipped 512x600 portrait.
GRACE_LANDMARKS = np.array(
    [[222.1, 191.1], [311.1, 184.9], [269.1, 238.7], [234.0, 279.1], [307.3, 274.7]]
)


def _whole_image_blur_align(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    matrix = similarity_transform(landmarks, template_points(size))
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    assert scale < 0.5  # the blur path
    src = cv2.GaussianBlur(rgb, (0, 0), sigmaX=0.5 / scale * 0.5)
    return cv2.warpAffine(
        src, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


@pytest.fixture(scope="module")
def big_portrait(portraits) -> np.ndarray:
    """The portrait upscaled 4x (2048x2400): eyes ~356 px apart, so every size downscales < 0.5."""
    rgb = np.asarray(Image.open(portraits["grace_hopper"]).convert("RGB"))
    return cv2.resize(rgb, (rgb.shape[1] * 4, rgb.shape[0] * 4), interpolation=cv2.INTER_CUBIC)


def _rotated(points: np.ndarray, degrees: float, about: np.ndarray) -> np.ndarray:
    a = np.radians(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - about) @ rot.T + about


@pytest.mark.parametrize("size", [112, 224, 299])
@pytest.mark.parametrize("case", ["upright", "rotated", "off_the_top_left", "off_the_bottom_right"])
def test_region_blur_equals_whole_image_blur(big_portrait, size, case):
    h, w = big_portrait.shape[:2]
    landmarks = GRACE_LANDMARKS * 4
    if case == "rotated":
        landmarks = _rotated(landmarks, 35, landmarks.mean(0))
    elif case == "off_the_top_left":
        landmarks = landmarks - landmarks.min(0) + (-60, -80)
    elif case == "off_the_bottom_right":
        landmarks = landmarks - landmarks.max(0) + (w + 40, h + 25)
    expected = _whole_image_blur_align(big_portrait, landmarks, size)
    got = align_face(big_portrait, landmarks, size)
    assert got.image.shape == (size, size, 3)
    assert np.abs(got.image.astype(int) - expected).max() <= 1


def test_no_blur_when_not_downscaling(portraits):
    rgb = np.asarray(Image.open(portraits["grace_hopper"]).convert("RGB"))
    aligned = align_face(rgb, GRACE_LANDMARKS, 224)  # scale ~1.1: plain warp
    matrix = similarity_transform(GRACE_LANDMARKS, template_points(224))
    plain = cv2.warpAffine(
        rgb, matrix, (224, 224), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    assert np.array_equal(aligned.image, plain)
