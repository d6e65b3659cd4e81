"""Similarity alignment: exact on synthetic landmarks, template scaling, and the way back."""

from __future__ import annotations

import numpy as np
import pytest

from dysmorph_desk.faces.align import (
    TEMPLATE,
    align_face,
    apply_matrix,
    invert_matrix,
    similarity_transform,
    template_description,
    template_points,
)


def _similarity(angle_deg, scale, tx, ty):
    a = np.radians(angle_deg)
    return np.array(
        [[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]]
    )


def test_recovers_a_known_similarity():
    m = _similarity(17, 2.3, 40, -12)
    src = np.random.default_rng(0).uniform(0, 100, (5, 2))
    est = similarity_transform(src, apply_matrix(m, src))
    assert np.allclose(est, m, atol=1e-9)


def test_template_is_normalised_and_scales_to_each_input_size():
    assert TEMPLATE.shape == (5, 2) and (TEMPLATE > 0).all() and (TEMPLATE < 1).all()
    assert TEMPLATE[0, 0] < TEMPLATE[1, 0]  # left eye left of right eye
    for size in (112, 224, 299):
        assert np.allclose(template_points(size), TEMPLATE * size)
    desc = template_description()
    assert desc["name"] and len(desc["points"]) == 5


@pytest.mark.parametrize("size", [112, 224, 299])
def test_aligned_landmarks_land_on_the_template(size):
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 255, (600, 500, 3), dtype=np.uint8)
    m = _similarity(-25, 1.7, 120, 200)
    landmarks = apply_matrix(m, TEMPLATE * 100)
    aligned = align_face(photo, landmarks, size)
    assert aligned.image.shape == (size, size, 3)
    assert np.allclose(apply_matrix(aligned.matrix, landmarks), TEMPLATE * size, atol=1e-6)


def test_heatmap_goes_back_onto_the_photo_where_it_came_from():
    photo = np.zeros((400, 300, 3), np.uint8)
    landmarks = apply_matrix(_similarity(30, 1.2, 80, 90), TEMPLATE * 150)
    aligned = align_face(photo, landmarks, 224)
    heat = np.zeros((224, 224), np.float32)
    ex, ey = (TEMPLATE[0] * 224).round().astype(int)
    heat[ey - 3 : ey + 4, ex - 3 : ex + 4] = 1.0  # hot spot on the left eye
    back = aligned.to_photo(heat, photo.shape)
    assert back.shape == (400, 300)
    peak = np.unravel_index(np.argmax(back), back.shape)
    assert np.hypot(peak[1] - landmarks[0, 0], peak[0] - landmarks[0, 1]) < 4
    # and the inverse of the forward matrix maps aligned points back to photo points
    assert np.allclose(
        apply_matrix(invert_matrix(aligned.matrix), TEMPLATE * 224), landmarks, atol=1e-6
    )
