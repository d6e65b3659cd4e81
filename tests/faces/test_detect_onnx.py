"""MTCNN on ONNX Runtime (faces.mtcnn / faces.detect): finds the faces torch-free, and finds the same
faces as facenet-pytorch's MTCNN run with the same settings.

The first half needs no torch: the detector alone finds the faces where they are. The second half
(skipped without facenet-pytorch) runs facenet-pytorch on the same images: the same number of faces,
boxes within 2 px, landmarks within 1 px (at the working resolution) and scores within 1e-3.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from dysmorph_desk.faces.detect import DetectorSettings, FaceDetector
from dysmorph_desk.faces.mtcnn import MTCNN, Detections, nms, pyramid_scales

BOX_TOL_PX, LANDMARK_TOL_PX, SCORE_TOL = 2.0, 1.0, 1e-3


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _two_faces(portraits) -> np.ndarray:
    """The astronaut filling 600x600 on the left, Grace Hopper at about half that on the right."""
    big = cv2.resize(_rgb(portraits["astronaut"]), (600, 600), interpolation=cv2.INTER_AREA)
    small = cv2.resize(_rgb(portraits["grace_hopper"]), (256, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((600, 900, 3), 200, np.uint8)
    canvas[:, :600] = big
    canvas[150:450, 620:876] = small
    return canvas


def _small_face(portraits) -> np.ndarray:
    """A 2400x1600 photo with Grace Hopper's face ~50 px wide: ~10 px at 480 (missed), ~22 at 1024."""
    yy, xx = np.mgrid[0:1600, 0:2400]
    canvas = np.dstack([90 + xx // 40, 110 + yy // 40, np.full_like(xx, 130)]).astype(np.uint8)
    face = cv2.resize(_rgb(portraits["grace_hopper"]), (154, 180), interpolation=cv2.INTER_AREA)
    canvas[700:880, 1100:1254] = face
    return canvas


def _no_face() -> np.ndarray:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


@pytest.fixture(scope="module")
def images(portraits) -> dict[str, np.ndarray]:
    return {
        "astronaut": _rgb(portraits["astronaut"]),
        "grace_hopper": _rgb(portraits["grace_hopper"]),
        "two_faces": _two_faces(portraits),
        "small_face": _small_face(portraits),
        "no_face": _no_face(),
    }


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _centre(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


# --- torch-free: the ONNX detector finds the faces where they are ---------------------------------


def test_portraits_one_face_each_with_landmarks_in_place(images, detector):
    for name, centre in (("astronaut", (224, 118)), ("grace_hopper", (264, 220))):
        faces = detector.detect(images[name])
        assert len(faces) == 1, name
        face = faces[0]
        assert face.score >= 0.99
        assert np.linalg.norm(_centre(face.box) - centre) < 15, (name, face.box)
        eyes, nose, mouth = face.landmarks[:2], face.landmarks[2], face.landmarks[3:]
        assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]  # image left first
        assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()  # eyes, nose, mouth top to bottom
        x0, y0, x1, y1 = face.box
        assert np.all((face.landmarks >= (x0, y0)) & (face.landmarks <= (x1, y1)))


def test_two_faces_largest_first(images, detector):
    faces = detector.detect(images["two_faces"])
    assert len(faces) == 2
    assert faces[0].area > 1.2 * faces[1].area
    assert _centre(faces[0].box)[0] < 600 < _centre(faces[1].box)[0]


def test_small_face_needs_the_retry(images, detector):
    rgb = images["small_face"]
    s = detector.settings
    assert detector._detect_at(rgb, s.detect_long_side, s.first_min_face_px) == []
    faces = detector.detect(rgb)
    assert len(faces) == 1
    assert 1100 < _centre(faces[0].box)[0] < 1254 and 700 < _centre(faces[0].box)[1] < 880


def test_no_face_is_an_empty_list(images, detector):
    assert detector.detect(images["no_face"]) == []
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []
    assert detector.detect(np.zeros((8, 5, 3), np.uint8)) == []  # smaller than one PNet cell


def test_detect_from_several_threads_gives_the_same_faces(images):
    shared = FaceDetector()  # sessions created by whichever thread comes first
    results: list[list] = [[] for _ in range(4)]

    def work(k: int) -> None:
        results[k] = shared.detect(images["two_faces"])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for faces in results:
        assert [f.box for f in faces] == [f.box for f in results[0]] and len(faces) == 2


def test_detection_never_imports_torch():
    code = (
        "import sys, numpy as np\n"
        "from dysmorph_desk.faces.detect import FaceDetector\n"
        "FaceDetector().detect(np.zeros((64, 64, 3), np.uint8))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.8, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes[:0], scores[:0], 0.5).size == 0


def test_pyramid_is_facenet_pytorchs():
    scales = pyramid_scales(360, 480, 40, 0.709)
    assert scales[0] == pytest.approx(0.3) and len(scales) == 7
    assert all(b == pytest.approx(a * 0.709) for a, b in itertools.pairwise(scales))
    assert pyramid_scales(10, 10, 20, 0.709) == []


# --- parity with facenet-pytorch (needs torch) -----------------------------------------------------


def _working(rgb: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """The working image FaceDetector detects on (same resize as faces.detect)."""
    h, w = rgb.shape[:2]
    factor = min(1.0, long_side / max(h, w))
    if factor >= 1.0:
        return rgb, 1.0
    size = (round(w * factor), round(h * factor))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), factor


@pytest.fixture(scope="module")
def facenet():
    facenet_pytorch = pytest.importorskip("facenet_pytorch")
    s = DetectorSettings()
    return facenet_pytorch.MTCNN(
        keep_all=True,
        min_face_size=s.min_face_px,
        thresholds=list(s.thresholds),
        post_process=False,
        device="cpu",
    )


def _facenet_detect(facenet, rgb: np.ndarray, min_face: int) -> Detections:
    import torch

    facenet.min_face_size = min_face
    with torch.inference_mode():
        boxes, probs, points = facenet.detect(np.ascontiguousarray(rgb), landmarks=True)
    if boxes is None:
        return Detections.empty()
    return Detections(
        boxes=np.asarray(boxes, np.float32),
        scores=np.asarray(probs, np.float32),
        landmarks=np.asarray(points, np.float32),
    )


def _assert_same(ours: Detections, ref: Detections, where: str) -> None:
    assert len(ours) == len(ref), f"{where}: {len(ours)} faces, facenet-pytorch {len(ref)}"
    if len(ref):
        assert np.abs(ours.boxes - ref.boxes).max() <= BOX_TOL_PX, where
        assert np.abs(ours.landmarks - ref.landmarks).max() <= LANDMARK_TOL_PX, where
        assert np.abs(ours.scores - ref.scores).max() <= SCORE_TOL, where


IMAGE_NAMES = ["astronaut", "grace_hopper", "two_faces", "small_face", "no_face"]


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_each_pass_matches_facenet_pytorch(name, images, facenet):
    """Raw MTCNN output (before min_score) at both working sizes, in working-image pixels."""
    s = DetectorSettings()
    ours = MTCNN(thresholds=s.thresholds)
    for long_side, min_face in (
        (s.detect_long_side, s.first_min_face_px),
        (s.retry_long_side, s.min_face_px),
    ):
        small, _ = _working(images[name], long_side)
        ref = _facenet_detect(facenet, small, min_face)
        _assert_same(ours.detect(small, min_face), ref, f"{name} @ {long_side}")


def _facenet_faces(facenet, rgb: np.ndarray, s: DetectorSettings):
    """FaceDetector's two-pass logic on facenet-pytorch: (faces, factor of the pass that found them)."""
    for long_side, min_face in (
        (s.detect_long_side, s.first_min_face_px),
        (s.retry_long_side, s.min_face_px),
    ):
        small, factor = _working(rgb, long_side)
        found = _facenet_detect(facenet, small, min_face)
        keep = found.scores >= s.min_score
        if keep.any():
            return (
                found.boxes[keep] / factor,
                found.landmarks[keep] / factor,
                found.scores[keep],
                factor,
            )
    return np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0), 1.0


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_face_detector_matches_facenet_pytorch(name, images, detector, facenet):
    """The public path: same faces in photo pixels (tolerances at the working resolution)."""
    boxes, landmarks, scores, factor = _facenet_faces(facenet, images[name], detector.settings)
    faces = detector.detect(images[name])
    assert len(faces) == len(boxes) == {"two_faces": 2, "no_face": 0}.get(name, 1)
    for face, box, pts, score in zip(faces, boxes, landmarks, scores, strict=True):
        assert np.abs(np.asarray(face.box) - box).max() * factor <= BOX_TOL_PX
        assert np.abs(face.landmarks - pts).max() * factor <= LANDMARK_TOL_PX
        assert abs(face.score - score) <= SCORE_TOL
