"""The screening pipeline end to end on the sample portraits, with a random-weight bundle."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from dysmorph_desk.bundles.format import load_bundle
from dysmorph_desk.errors import FaceRefused, ImageRefused, UsageError
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.faces.image import from_array, load_image
from dysmorph_desk.screening.options import ScreenOptions
from dysmorph_desk.screening.pipeline import Screener
from dysmorph_desk.screening.results import CaseInfo


@pytest.fixture(scope="module")
def screener(test_bundle):
    return Screener([load_bundle(test_bundle)], FaceDetector())


def test_screens_a_portrait_with_heatmap_on_both_spaces(screener, portraits):
    # the control map: it lies on the face, which is what the projection test needs (the default,
    # syndromic, map of the demo model is half background: see tests/explain/test_cam_target.py)
    r = screener.screen(
        portraits["grace_hopper"], CaseInfo(age_months=60), ScreenOptions(cam_target="control")
    )
    assert r.faces_detected == 1 and len(r.results) == 1
    m = r.results[0]
    assert m.assessable and set(m.probabilities) == {"syndromic_like", "control"}
    assert sum(m.probabilities.values()) == pytest.approx(1.0)
    assert m.predicted == max(m.probabilities, key=m.probabilities.get)
    assert m.flagged == (m.syndromic_probability >= m.threshold)
    assert m.aligned_face.shape == (224, 224, 3)
    assert m.heatmap_aligned.shape == (224, 224) and np.isfinite(m.heatmap_aligned).all()
    heat_photo = m.heatmap_on_photo(r.photo.shape)  # derived on demand (only the app draws it)
    assert heat_photo.shape == r.photo.shape[:2]
    # the back-projected heatmap lies on the face, not elsewhere in the photo
    x0, y0, x1, y1 = (int(v) for v in r.face.box)
    inside = np.zeros(r.photo.shape[:2], bool)
    inside[max(y0 - 40, 0) : y1 + 40, max(x0 - 40, 0) : x1 + 40] = True
    assert (
        heat_photo[~inside].max(initial=0) < 1e-6
        or heat_photo[inside].sum() > 0.9 * heat_photo.sum()
    )
    names = {q.name for q in r.quality}
    assert {"face_size", "blur", "roll", "yaw", "pitch"} <= names
    assert any("demonstration model" in w for w in r.warnings)
    data = r.to_json()
    assert data["results"][0]["model_status"] == "demonstration"


def test_probability_only_path_matches_the_cam_forward_pass(screener, portraits):
    img = load_image(portraits["astronaut"])
    a = screener.screen(img, CaseInfo(age_months=60), ScreenOptions(cam_method=None)).results[0]
    b = screener.screen(img, CaseInfo(age_months=60), ScreenOptions(cam_method="gradcam")).results[
        0
    ]
    assert a.heatmap_aligned is None
    for k in a.probabilities:
        assert a.probabilities[k] == pytest.approx(b.probabilities[k], abs=1e-3)


def two_faces(portraits) -> np.ndarray:
    big = np.asarray(Image.open(portraits["astronaut"]).convert("RGB"))
    small = np.asarray(Image.open(portraits["grace_hopper"]).convert("RGB").resize((256, 300)))
    canvas = np.full((600, 900, 3), 200, np.uint8)
    big = cv2.resize(big, (600, 600))
    canvas[:, :600] = big
    canvas[150:450, 620:876] = small
    return canvas


def test_several_faces_largest_first_and_face_n_picks_another(screener, portraits):
    image = from_array(two_faces(portraits))
    first = screener.screen(image, CaseInfo(age_months=60))
    assert first.faces_detected == 2
    assert any("2 faces detected" in w for w in first.warnings)
    second = screener.screen(image, CaseInfo(age_months=60), ScreenOptions(face_index=2))
    assert second.face.box[0] > first.face.box[0] + 200  # the small face on the right
    with pytest.raises(FaceRefused, match="face 3 was asked for"):
        screener.screen(image, options=ScreenOptions(face_index=3))


def test_no_face_is_refused(screener):
    with pytest.raises(FaceRefused, match="no face"):
        screener.screen(from_array(np.full((300, 300, 3), 127, np.uint8)))


def test_corrupt_file_is_refused(screener, tmp_path):
    p = tmp_path / "x.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageRefused):
        screener.screen(p)


def test_tiny_face_cannot_be_assessed_but_is_not_refused(screener, portraits):
    rgb = np.asarray(Image.open(portraits["grace_hopper"]).convert("RGB"))
    small = cv2.resize(rgb, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)  # eyes ~35 px apart
    canvas = np.full((400, 400, 3), 120, np.uint8)
    canvas[100 : 100 + small.shape[0], 100 : 100 + small.shape[1]] = small
    r = screener.screen(from_array(canvas), CaseInfo(age_months=60))
    size = {q.name: q for q in r.quality}["face_size"]
    assert not size.passed and size.hard
    m = r.results[0]
    assert not m.assessable and m.probabilities is None and "too small" in m.cannot_assess_reason
    forced = screener.screen(
        from_array(canvas), CaseInfo(age_months=60), ScreenOptions(force_assess=True)
    ).results[0]
    assert forced.assessable and forced.forced_assessment and forced.probabilities is not None


def test_blurred_face_cannot_be_assessed(screener, portraits):
    rgb = np.asarray(Image.open(portraits["astronaut"]).convert("RGB"))
    r = screener.screen(from_array(cv2.GaussianBlur(rgb, (0, 0), 3.5)), CaseInfo(age_months=60))
    if r.results[0].assessable:
        pytest.fail(f"blur not caught: {[(q.name, q.value) for q in r.quality]}")
    assert "blurred" in r.results[0].cannot_assess_reason


def test_in_plane_tilt_is_no_reason_to_refuse(screener, portraits):
    rgb = np.asarray(Image.open(portraits["grace_hopper"]).convert("RGB"))
    h, w = rgb.shape[:2]
    rot = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), 35, 1.0), (w, h))
    r = screener.screen(from_array(rot), CaseInfo(age_months=60))
    assert {q.name: q for q in r.quality}["roll"].value > 25
    assert r.results[0].assessable


def test_age_outside_validated_range(screener, portraits):
    r = screener.screen(portraits["grace_hopper"], CaseInfo(age_months=300))
    m = r.results[0]
    assert not m.assessable and "validated range 6-144 months" in m.cannot_assess_reason
    r = screener.screen(portraits["grace_hopper"], CaseInfo())
    assert r.results[0].assessable and any("age not given" in w for w in r.warnings)


def test_cam_target_class(screener, portraits):
    r = screener.screen(
        portraits["grace_hopper"], CaseInfo(age_months=60), ScreenOptions(cam_target="control")
    )
    assert r.results[0].cam_target == "control"
    with pytest.raises(UsageError):
        screener.screen(
            portraits["grace_hopper"], CaseInfo(age_months=60), ScreenOptions(cam_target="nope")
        )


def test_manual_landmarks_skip_detection(screener, portraits):
    detected = FaceDetector().detect(load_image(portraits["grace_hopper"]).rgb)[0].landmarks
    blank = Screener(screener.bundles, FaceDetector())
    blank.find_faces = lambda image: []  # as if detection failed
    r = blank.screen(
        portraits["grace_hopper"], CaseInfo(age_months=60), ScreenOptions(manual_landmarks=detected)
    )
    assert r.results[0].assessable and any("by hand" in w for w in r.warnings)


def test_case_info_validates():
    with pytest.raises(ValueError):
        CaseInfo(sex="x")
    with pytest.raises(ValueError):
        CaseInfo(age_months=-1)
