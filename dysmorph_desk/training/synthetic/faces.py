"""Synthetic faces on the canonical canvas: base faces, mattes, identity and class-defining warps.

The two bundled public-domain portraits are aligned into the canonical canvas (landmarks moved
exactly onto the template's) together with their mirrored half-faces; those are the base faces
that identities are mixed from. The class-defining change (``class_warp``) and the small random
identity change (``identity_warp``) are anchored at an identity's landmarks here, so that what
makes a face "syndromic_like" or "control" is defined in one place.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dysmorph_desk.faces.align import apply_matrix, similarity_transform
from dysmorph_desk.training.synthetic.params import (
    CANVAS,
    CLASSES,
    EYE_SHIFT_IOD,
    MIDFACE,
    SLANT_DEG,
    canonical_landmarks,
)
from dysmorph_desk.training.synthetic.warps import (
    Warp,
    _bump,
    _frame,
    _lerp,
    _local_linear,
    _rot,
    landmark_warp,
    warp_image,
)

# Landmarks of the bundled portraits as found by FaceDetector (MTCNN), keyed by the file's SHA-256:
# they make the dataset independent of torch's numerics across machines and save loading MTCNN.
# A portrait that is not listed is detected at run time.
_KNOWN_LANDMARKS: dict[str, list[list[float]]] = {
    "2418889d0d83962d51facc3832b55cf1849690018a1e873d1c551146555cd02f": [  # astronaut.png
        [204.78, 100.61],
        [248.15, 103.66],
        [225.75, 128.09],
        [202.16, 139.35],
        [245.95, 141.92],
    ],
    "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130": [  # grace_hopper.jpg
        [222.65, 191.15],
        [310.24, 185.39],
        [268.66, 238.33],
        [233.45, 277.55],
        [307.14, 274.19],
    ],
}


# Sites of the control displacements, in units of the inter-ocular distance from the eye midpoint
# (x along the eye axis, y downwards). Far enough from eyes and nose that the eye points stay unmoved.
_CONTROL_PAIRS = {
    "temples": (1.05, -0.60),
    "cheeks": (0.80, 0.80),
    "jaw": (0.85, 1.50),
    "ears": (1.35, 0.30),
}
_CONTROL_MIDLINE = {"forehead": -1.20, "chin": 1.80}

_EYE_SIGMA = (0.32, 0.24)  # x IOD fraction of the eye-region Gaussian
_NOSE_SIGMA_X = 0.35  # IOD fraction; the y sigma is 0.8 x nose length
_NOSE_G_TIP = math.exp(-0.5 / 0.8**2)  # Gaussian weight at the nose tip
# Where the syndromic bumps overlap (eyes and nose share the region between the eyes) their
# displacements add up and their areas merge; controls are spread out. A gain on the control
# displacements and slightly narrower control Gaussians match the two classes' displacement
# magnitudes (peak and mean over the changed region) and changed areas.
_CONTROL_GAIN = 1.35
_CONTROL_SIGMA_SCALE = 0.8


def class_warp(
    label: str, landmarks: np.ndarray, strength: float, rng: np.random.Generator
) -> Warp:
    """The class-defining change for one identity, anchored at its canonical landmarks.

    ``strength`` in 0..1 sets the magnitude (0 = subtle end of each range); ``rng`` adds a +-15%
    per-component jitter and, for controls, picks where the change goes.
    """
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}")
    lm = np.asarray(landmarks, dtype=np.float64)
    mid, ex, ey, iod = _frame(lm)
    nose_len = float(np.linalg.norm(lm[2] - mid))

    def jitter() -> float:
        return float(rng.uniform(0.85, 1.15))

    shift = _lerp(EYE_SHIFT_IOD, strength) * jitter() * iod
    theta = math.radians(_lerp(SLANT_DEG, strength) * jitter())
    flat = _lerp(MIDFACE, strength) * jitter()
    k = 1.0 if label == "syndromic_like" else _CONTROL_SIGMA_SCALE
    eye_sigma = (k * _EYE_SIGMA[0] * iod, k * _EYE_SIGMA[1] * iod)
    mid_sigma = (k * _NOSE_SIGMA_X * iod, k * 0.8 * nose_len)
    # Shorten by `flat` at the tip (the Gaussian weight there is _NOSE_G_TIP), widen by 0.8 of that.
    mid_linear = _local_linear(ex, ey, 0.8 * flat / _NOSE_G_TIP, -flat / _NOSE_G_TIP)
    if label == "syndromic_like":
        left_c, right_c, mid_c = lm[0], lm[1], mid
    else:
        shift, theta = shift * _CONTROL_GAIN, theta * _CONTROL_GAIN
        mid_linear = mid_linear * _CONTROL_GAIN
        site = str(rng.choice(sorted(_CONTROL_PAIRS)))
        ox, oy = _CONTROL_PAIRS[site]
        left_c = mid + iod * (-ox * ex + oy * ey)
        right_c = mid + iod * (ox * ex + oy * ey)
        mid_c = mid + iod * _CONTROL_MIDLINE[str(rng.choice(sorted(_CONTROL_MIDLINE)))] * ey
    # Image-left region: outward is -ex, and rotating by +theta lifts its outer (left) end; mirrored
    # for the image-right region.
    return Warp(
        (
            _bump(left_c, eye_sigma, -shift * ex, _rot(theta) - np.eye(2)),
            _bump(right_c, eye_sigma, shift * ex, _rot(-theta) - np.eye(2)),
            _bump(mid_c, mid_sigma, linear=mid_linear),
        )
    )


def identity_warp(landmarks: np.ndarray, rng: np.random.Generator) -> Warp:
    """A small random smooth warp that makes a new identity: face width, eye height and spacing,
    nose length and width, mouth width and height, chin length (a few per cent each)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    mid, ex, ey, iod = _frame(lm)
    nose_len = float(np.linalg.norm(lm[2] - mid))
    mouth = (lm[3] + lm[4]) / 2.0
    spacing = rng.uniform(-0.035, 0.035) * iod
    eye_h = rng.uniform(-0.04, 0.04) * iod
    width = rng.uniform(-0.07, 0.07) * iod
    bumps = [
        _bump(lm[0], (0.35 * iod, 0.30 * iod), -spacing * ex + eye_h * ey),
        _bump(lm[1], (0.35 * iod, 0.30 * iod), spacing * ex + eye_h * ey),
        _bump(mid + iod * (-0.95 * ex + 0.7 * ey), (0.45 * iod, 0.6 * iod), -width * ex),
        _bump(mid + iod * (0.95 * ex + 0.7 * ey), (0.45 * iod, 0.6 * iod), width * ex),
        _bump(
            mid,
            (0.30 * iod, 0.8 * nose_len),
            linear=_local_linear(ex, ey, rng.uniform(-0.08, 0.08), rng.uniform(-0.11, 0.11)),
        ),
        _bump(
            mouth,
            (0.5 * iod, 0.25 * iod),
            rng.uniform(-0.04, 0.04) * iod * ey,
            _local_linear(ex, ey, rng.uniform(-0.12, 0.12), 0.0),
        ),
        _bump(mid + 1.75 * iod * ey, (0.6 * iod, 0.45 * iod), rng.uniform(-0.07, 0.07) * iod * ey),
    ]
    return Warp(tuple(bumps))


_BASES: dict[str, np.ndarray] | None = None
_BASES_LOCK = threading.Lock()


def _portrait_files() -> list[tuple[str, bytes]]:
    from dysmorph_desk.utils.resources import sample_portraits

    return [(p.name, p.read_bytes()) for p in sample_portraits()]


def _landmarks_for(data: bytes, rgb: np.ndarray, name: str) -> np.ndarray:
    known = _KNOWN_LANDMARKS.get(hashlib.sha256(data).hexdigest())
    if known is not None:
        return np.array(known, dtype=np.float64)
    from dysmorph_desk.faces.detect import FaceDetector

    faces = FaceDetector().detect(rgb)
    if not faces:
        raise RuntimeError(f"no face found in the sample portrait {name}")
    return np.asarray(faces[0].landmarks, dtype=np.float64)


def _to_canvas(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Similarity-align a portrait into the canvas, then warp its five landmarks exactly onto the
    template's (the least-squares similarity leaves residuals of a few pixels, e.g. at a smile), so
    that every base face, and every mix of them, has its landmarks where the template has them."""
    matrix = similarity_transform(landmarks, canonical_landmarks())
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    src = rgb
    if scale < 0.8:
        src = cv2.GaussianBlur(rgb, (0, 0), sigmaX=0.35 / scale)
    aligned = cv2.warpAffine(
        src, matrix, (CANVAS, CANVAS), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    ).astype(np.float32)
    fit = landmark_warp(apply_matrix(matrix, landmarks), canonical_landmarks())
    return warp_image(aligned, [fit])[0]


def _mirror_halves(canvas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left half + its mirror, and right half + its mirror, about the template's midline."""
    xm = float(canonical_landmarks()[:2, 0].mean())
    xs = np.arange(CANVAS, dtype=np.float32)
    map_x = np.broadcast_to(2.0 * xm - xs, (CANVAS, CANVAS)).astype(np.float32)
    map_y = np.broadcast_to(np.arange(CANVAS, dtype=np.float32)[:, None], (CANVAS, CANVAS)).astype(
        np.float32
    )
    mirrored = cv2.remap(canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    w = (1.0 / (1.0 + np.exp(-(xs - xm) / 2.0))).astype(np.float32)[None, :, None]
    return (1 - w) * canvas + w * mirrored, w * canvas + (1 - w) * mirrored


def base_faces() -> dict[str, np.ndarray]:
    """Canonical float32 RGB canvases: each portrait and its two mirrored half-faces (cached)."""
    global _BASES
    with _BASES_LOCK:
        if _BASES is None:
            bases: dict[str, np.ndarray] = {}
            for name, data in _portrait_files():
                rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
                canvas = _to_canvas(rgb, _landmarks_for(data, rgb, name))
                stem = Path(name).stem
                left, right = _mirror_halves(canvas)
                bases[stem] = canvas
                bases[f"{stem}/left-mirrored"] = left
                bases[f"{stem}/right-mirrored"] = right
            if len(bases) < 2:
                raise RuntimeError("the synthetic generator needs the bundled sample portraits")
            _BASES = bases
        return _BASES


def _face_matte() -> np.ndarray:
    """Soft ellipse over the inner face in the canvas (1 inside, 0 outside)."""
    lm = canonical_landmarks()
    mid, _, _, iod = _frame(lm)
    matte = np.zeros((CANVAS, CANVAS), np.float32)
    centre = (round(mid[0]), round(mid[1] + 0.55 * iod))
    cv2.ellipse(matte, centre, (round(1.05 * iod), round(1.5 * iod)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(matte, (0, 0), sigmaX=0.2 * iod)


def _canvas_alpha() -> np.ndarray:
    """Soft rounded-square vignette over the canvas, so it blends into the photo's background."""
    c = (CANVAS - 1) / 2.0
    u = np.abs(np.arange(CANVAS, dtype=np.float32) - c) / c
    r = (u[:, None] ** 4 + u[None, :] ** 4) ** 0.25
    t = np.clip((1.0 - r) / 0.22, 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


_MATTES: dict[str, np.ndarray] = {}


def _matte(name: str) -> np.ndarray:
    if name not in _MATTES:
        _MATTES[name] = _face_matte() if name == "face" else _canvas_alpha()
    return _MATTES[name]
