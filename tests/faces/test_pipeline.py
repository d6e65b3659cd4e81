"""The one face pipeline: screening, the preview hint and the training face cache agree on what a
usable face is, because all three go through ``detect_and_align``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dysmorph_desk.errors import FaceRefused, InputRefused
from dysmorph_desk.faces.align import TEMPLATE
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.faces.image import load_image
from dysmorph_desk.faces.pipeline import QUALITY_SIZE, detect_and_align, face_from_landmarks
from dysmorph_desk.faces.types import FaceInfo


class _Fixed:
    """A detector that returns given faces (largest first), counting its calls."""

    def __init__(self, faces):
        self.faces, self.calls = faces, 0

    def detect(self, rgb):
        self.calls += 1
        return list(self.faces)


def _photo(seed: int = 0, size: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(30, 220, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST)


def _face(scale: float, offset=(100, 100)) -> FaceInfo:
    lm = TEMPLATE * scale + np.asarray(offset, float)
    return face_from_landmarks(lm)


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(device="cpu")


def test_refusals_are_one_liners_and_the_hint_is_the_callers():
    rgb = _photo()
    with pytest.raises(FaceRefused, match=r"^no face found \(place the five landmarks"):
        detect_and_align(rgb, _Fixed([]))
    with pytest.raises(FaceRefused, match=r"^no face found$"):
        detect_and_align(rgb, _Fixed([]), no_face_hint="")
    with pytest.raises(FaceRefused, match="face 3 was asked for, but 1 face"):
        detect_and_align(rgb, _Fixed([_face(200)]), face_index=3)
    tiny = _face(40)  # ~10 px between the eyes
    with pytest.raises(FaceRefused, match="face too small to screen"):
        detect_and_align(rgb, _Fixed([tiny]))
    # the size limit is in full-resolution pixels: the same face in a photo decoded at 1/4 is 4x larger
    finding = detect_and_align(rgb, _Fixed([tiny]), scale=0.25)
    assert finding.face is not None


def test_given_faces_skip_detection_and_several_faces_warn():
    det = _Fixed([])
    big, small = _face(200), _face(150, offset=(10, 10))
    finding = detect_and_align(_photo(), det, faces=[big, small], face_index=2)
    assert det.calls == 0 and finding.face is small and finding.face_index == 2
    assert finding.aligned.image.shape == (QUALITY_SIZE, QUALITY_SIZE, 3)
    assert any("2 faces detected" in w for w in finding.warnings)
    assert {q.name for q in finding.quality} >= {"face_size", "blur", "yaw", "pitch"}


def test_manual_landmarks_are_full_resolution_pixels():
    lm = TEMPLATE * 200 + 100  # full-resolution pixels
    finding = detect_and_align(_photo(), None, scale=0.5, manual_landmarks=lm)
    assert finding.manual and finding.faces == []
    np.testing.assert_allclose(finding.face.landmarks, lm * 0.5)
    assert "landmarks placed by hand" in finding.warnings[0]


def test_hard_and_soft_failures_are_reported_not_raised():
    rgb = cv2.GaussianBlur(_photo(), (0, 0), 8)
    finding = detect_and_align(rgb, _Fixed([_face(200)]))
    assert not finding.usable
    assert "blur" in {q.name for q in finding.hard_failures}
    assert [q.name for q in finding.failed(["blur", "roll"])] == ["blur"]


def test_screening_preview_and_training_cache_share_the_definition(
    tmp_path, detector, portraits, test_bundle
):
    """A blurred portrait: screening cannot assess it for blur, the preview says "blurred", and the
    training cache keeps it by default but refuses it when told that blur is hard for training."""
    from dysmorph_desk.bundles.format import load_bundle
    from dysmorph_desk.engine.worker import preview_hint
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.pipeline import Screener
    from dysmorph_desk.training.facecache import aligned_face_for

    rgb = load_image(portraits["grace_hopper"]).rgb
    blurred = cv2.GaussianBlur(rgb, (0, 0), 9)
    path = tmp_path / "blurred.png"
    cv2.imwrite(str(path), cv2.cvtColor(blurred, cv2.COLOR_RGB2BGR))

    finding = detect_and_align(blurred, detector)
    assert [q.name for q in finding.hard_failures] == ["blur"]

    screener = Screener([load_bundle(test_bundle)], detector)
    result = screener.screen(path, options=ScreenOptions(cam_method=None))
    assert not result.results[0].assessable
    assert "blurred" in result.results[0].cannot_assess_reason

    assert "blurred" in preview_hint(blurred, finding.face)
    assert preview_hint(rgb, detect_and_align(rgb, detector).face) == ""

    kept = aligned_face_for(path, 224, detector)
    np.testing.assert_array_equal(kept, finding.aligned.image)
    with pytest.raises(InputRefused, match="face too blurred"):
        aligned_face_for(path, 224, detector, refuse_checks=("blur",))
    assert aligned_face_for(path, 112, detector).shape == (112, 112, 3)
