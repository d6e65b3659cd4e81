"""A synthetic two-class face dataset that DysmorphDesk generates itself, for demonstration models.

Nothing here is clinical. The two public-domain sample portraits are aligned into a canonical canvas
(the alignment template scaled to 224 px, centred in a 320 px canvas so hair and background stay in
view), multiplied into many synthetic "identities" (mirrored half-faces, cross-dissolves between
portraits, a small random smooth identity warp, a skin-tone shift) and each identity is given one
class-defining geometric change:

``syndromic_like``
    wider-set eyes (hypertelorism-like), up-slanted palpebral fissures and a shorter, wider nose
    (flat-midface-like), all anchored at the identity's landmarks;
``control``
    displacements of the same kinds and magnitude distribution, and about the same area, placed
    away from the eyes and nose (temples, cheeks, jaw, ear/hair region, forehead, chin), so that a
    classifier cannot win by spotting "some warp".

Every change is a smooth forward displacement field (a sum of Gaussian-weighted local affine
displacements) applied with ``cv2.remap``; the region it changed (displacement > 1 px, slightly
dilated) is written as a mask. Each identity is then photographed several times: random similarity
(roll, scale, position), a mild yaw/pitch homography, a random background outside the canvas,
lighting, blur, sensor noise and JPEG compression. The mask follows exactly the same geometry.

Everything is drawn from ``numpy.random.Generator`` streams derived from one seed, so a given seed
and version give the same labels and pixel-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dysmorph_desk.errors import UsageError
from dysmorph_desk.faces.align import TEMPLATE, apply_matrix, similarity_transform

CLASSES = ("syndromic_like", "control")
GENERATOR_VERSION = "dd-synthetic-v1"
SEXES = ("female", "male")
AGE_RANGE_MONTHS = (6, 144)

# Canonical canvas: the alignment template scaled to FACE_SIZE, offset so the face sits in the middle.
CANVAS = 320
FACE_SIZE = 224
OFFSET = (CANVAS - FACE_SIZE) // 2  # 48

# Photo rendering ranges.
PHOTO_SIDE = (360, 640)
PHOTO_IOD_PX = (45.0, 110.0)
ROLL_DEG = 15.0
YAW_DEG = 8.0
PITCH_DEG = 4.0
BLUR_SIGMA = (0.0, 1.2)
NOISE_SIGMA = (0.5, 5.0)
JPEG_QUALITY = (75, 95)

# Class-defining change at full strength (strength 0 .. 1 maps linearly onto these ranges).
EYE_SHIFT_IOD = (0.12, 0.22)  # outward shift of each eye region, fraction of inter-ocular distance
SLANT_DEG = (10.0, 20.0)  # rotation of each eye region, outer corner up
MIDFACE = (0.12, 0.22)  # fraction by which the nose is shortened (and, 0.8x of it, widened)

MASK_THRESHOLD_PX = 1.0
MASK_DILATE_PX = 3

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


def canonical_landmarks() -> np.ndarray:
    """The five template landmarks in canonical-canvas pixels (left eye, right eye, nose, mouth L, R)."""
    return TEMPLATE * float(FACE_SIZE) + float(OFFSET)


@dataclass
class SyntheticSummary:
    out_dir: Path
    n_images: int
    n_identities: int
    per_class: int
    seed: int
    description: str


# --------------------------------------------------------------------------------------------------
# Smooth displacement fields


@dataclass(frozen=True)
class Bump:
    """One Gaussian-weighted local affine displacement: g(p) * (shift + linear @ (p - centre))."""

    centre: tuple[float, float]
    sigma: tuple[float, float]  # along x, y (canvas axes)
    shift: tuple[float, float] = (0.0, 0.0)
    linear: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))


@dataclass(frozen=True)
class Warp:
    """A smooth forward displacement field: a point ``p`` moves to ``p + displacement(p)``."""

    bumps: tuple[Bump, ...]

    def displacement(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float32)
        out = np.zeros_like(pts)
        for b in self.bumps:
            dx = pts[..., 0] - np.float32(b.centre[0])
            dy = pts[..., 1] - np.float32(b.centre[1])
            g = np.exp(
                -0.5 * ((dx / np.float32(b.sigma[0])) ** 2 + (dy / np.float32(b.sigma[1])) ** 2)
            )
            (a, bb), (c, d) = b.linear
            out[..., 0] += g * (np.float32(b.shift[0]) + np.float32(a) * dx + np.float32(bb) * dy)
            out[..., 1] += g * (np.float32(b.shift[1]) + np.float32(c) * dx + np.float32(d) * dy)
        return out

    def forward(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float32)
        return (pts + self.displacement(pts)).astype(np.float64)

    def inverse(self, points: np.ndarray, iterations: int = 5) -> np.ndarray:
        """Where each output point comes from: solves ``q + D(q) = p`` by fixed-point iteration."""
        p = np.asarray(points, dtype=np.float32)
        q = p.copy()
        for _ in range(iterations):
            q = p - self.displacement(q)
        return q

    def field(self, shape: tuple[int, int] = (CANVAS, CANVAS)) -> np.ndarray:
        """The forward displacement sampled on the pixel grid, (H, W, 2) float32.

        Each bump is evaluated only within 4 sigma of its centre (the rest is below 1e-3 px).
        """
        h, w = shape
        out = np.zeros((h, w, 2), np.float32)
        for b in self.bumps:
            x0 = max(0, math.floor(b.centre[0] - 4 * b.sigma[0]))
            x1 = min(w, math.ceil(b.centre[0] + 4 * b.sigma[0]) + 1)
            y0 = max(0, math.floor(b.centre[1] - 4 * b.sigma[1]))
            y1 = min(h, math.ceil(b.centre[1] + 4 * b.sigma[1]) + 1)
            if x0 >= x1 or y0 >= y1:
                continue
            ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            out[y0:y1, x0:x1] += Warp((b,)).displacement(np.stack([xs, ys], axis=-1))
        return out

    def changed_mask(self, shape: tuple[int, int] = (CANVAS, CANVAS)) -> np.ndarray:
        """uint8 0/255: where the output samples more than ~1 px away from where it was, dilated."""
        grid = _grid(shape)
        return _mask_from_sources(grid, _invert_field(self.field(shape), grid))


def _grid(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xs, ys], axis=-1)


def _invert_field(field: np.ndarray, points: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Solve ``q + D(q) = p`` for every point, D bilinearly sampled from its grid ``field``."""
    p = np.asarray(points, dtype=np.float32)
    q = p.copy()
    for _ in range(iterations):
        d = cv2.remap(
            field,
            q[..., 0],
            q[..., 1],
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        q = p - d
    return q


def _mask_from_sources(grid: np.ndarray, sources: np.ndarray) -> np.ndarray:
    moved = np.linalg.norm(sources - grid, axis=-1) > MASK_THRESHOLD_PX
    mask = moved.astype(np.uint8) * 255
    k = 2 * MASK_DILATE_PX + 1
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))


def warp_image(
    image: np.ndarray, warps: Sequence[Warp], class_warp_index: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply ``warps`` in order (first warp first) with one remap.

    Returns the warped image and, when ``class_warp_index`` is given, the changed-region mask of that
    warp in output coordinates.
    """
    h, w = image.shape[:2]
    grid = _grid((h, w))
    src = grid
    mask = None
    for i in range(len(warps) - 1, -1, -1):
        prev = src
        src = _invert_field(warps[i].field((h, w)), src)
        if i == class_warp_index:
            # Moved relative to what the later warps asked for, measured in this warp's frame.
            mask = _mask_from_sources(prev, src)
    out = cv2.remap(
        image,
        src[..., 0],
        src[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return out, mask


def _frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Eye midpoint, unit eye axis (image left -> right), unit downward axis, inter-ocular distance."""
    lm = np.asarray(landmarks, dtype=np.float64)
    axis = lm[1] - lm[0]
    iod = float(np.linalg.norm(axis))
    ex = axis / iod
    ey = np.array([-ex[1], ex[0]])
    return (lm[0] + lm[1]) / 2.0, ex, ey, iod


def _rot(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def _local_linear(ex: np.ndarray, ey: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """The linear map scaling by (1+sx) along ex and (1+sy) along ey, minus the identity."""
    basis = np.stack([ex, ey], axis=1)
    return basis @ np.diag([sx, sy]) @ basis.T


def _bump(centre, sigma, shift=(0.0, 0.0), linear=None) -> Bump:
    lin = np.zeros((2, 2)) if linear is None else np.asarray(linear, dtype=np.float64)
    return Bump(
        centre=(float(centre[0]), float(centre[1])),
        sigma=(float(sigma[0]), float(sigma[1])),
        shift=(float(shift[0]), float(shift[1])),
        linear=((float(lin[0, 0]), float(lin[0, 1])), (float(lin[1, 0]), float(lin[1, 1]))),
    )


def _lerp(rng_pair: tuple[float, float], t: float) -> float:
    return rng_pair[0] + (rng_pair[1] - rng_pair[0]) * t


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


# --------------------------------------------------------------------------------------------------
# Base faces from the sample portraits

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


def landmark_warp(landmarks: np.ndarray, targets: np.ndarray, sigma_iod: float = 0.3) -> Warp:
    """A smooth warp moving each landmark exactly onto its target (Gaussian RBF interpolation)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    iod = float(np.linalg.norm(lm[1] - lm[0]))
    sigma = sigma_iod * iod
    d2 = ((lm[:, None, :] - lm[None, :, :]) ** 2).sum(-1)
    shifts = np.linalg.solve(
        np.exp(-0.5 * d2 / sigma**2), np.asarray(targets, dtype=np.float64) - lm
    )
    return Warp(tuple(_bump(c, (sigma, sigma), t) for c, t in zip(lm, shifts, strict=False)))


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


# --------------------------------------------------------------------------------------------------
# Identities


@dataclass
class Identity:
    patient_id: str
    label: str
    age_months: int
    sex: str
    strength: float
    recipe: str
    canvas: np.ndarray  # uint8 RGB (CANVAS, CANVAS, 3), class change applied
    mask: np.ndarray  # uint8 0/255 (CANVAS, CANVAS): where the class change moved pixels
    landmarks: np.ndarray  # (5, 2) canonical-canvas landmarks after identity and class warps


def _shift_colour(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lab = cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    chroma = rng.uniform(0.85, 1.15)
    lab[..., 0] += rng.uniform(-8, 8)
    lab[..., 1] = lab[..., 1] * chroma + rng.uniform(-3, 5)
    lab[..., 2] = lab[..., 2] * chroma + rng.uniform(-6, 9)
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255.0


def make_identity(patient_id: str, label: str, rng: np.random.Generator) -> Identity:
    """Draw one synthetic identity of class ``label`` from ``rng``."""
    bases = base_faces()
    names = sorted(bases)
    primary, secondary = rng.choice(len(names), size=2, replace=False)
    w_inner = rng.uniform(0.0, 0.55)
    w_outer = rng.uniform(0.0, 0.25)
    weight = (w_outer + (w_inner - w_outer) * _matte("face"))[..., None]
    face = (1 - weight) * bases[names[primary]] + weight * bases[names[secondary]]
    face = _shift_colour(face, rng)

    canon = canonical_landmarks()
    ident = identity_warp(canon, rng)
    lm_ident = ident.forward(canon)
    strength = float(rng.uniform(0.0, 1.0))
    change = class_warp(label, lm_ident, strength, rng)
    warped, mask = warp_image(face, [ident, change], class_warp_index=1)
    assert mask is not None
    recipe = f"{names[primary]} + {w_inner:.2f} inner / {w_outer:.2f} outer of {names[secondary]}"
    return Identity(
        patient_id=patient_id,
        label=label,
        age_months=int(rng.integers(AGE_RANGE_MONTHS[0], AGE_RANGE_MONTHS[1] + 1)),
        sex=str(SEXES[int(rng.integers(0, 2))]),
        strength=strength,
        recipe=recipe,
        canvas=np.clip(warped + 0.5, 0, 255).astype(np.uint8),
        mask=mask,
        landmarks=change.forward(lm_ident),
    )


# --------------------------------------------------------------------------------------------------
# Photographs


def _ramp(angle: float, w: int, h: int) -> np.ndarray:
    return (
        math.cos(angle) * np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
        + math.sin(angle) * np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    )


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A muted wall/backdrop: smooth blotches (mostly luminance), a gradient, fine texture.

    Built at a quarter of the resolution and resized once (float32, (h, w, 3)).
    """
    sw, sh = max(2, w // 4), max(2, h // 4)
    base = rng.uniform(50, 210, size=3)
    base = base.mean() + rng.uniform(0.1, 0.5) * (base - base.mean())
    n = int(rng.integers(2, 6))
    coarse = (base + rng.normal(0, 22, size=(n, n, 1)) + rng.normal(0, 6, size=(n, n, 3))).astype(
        np.float32
    )
    small = cv2.resize(coarse, (sw, sh), interpolation=cv2.INTER_CUBIC)
    small += (rng.uniform(-50, 50) * _ramp(rng.uniform(0, 2 * math.pi), sw, sh))[..., None]
    fine = rng.normal(0, rng.uniform(2, 8), size=(sh, sw, 1)).astype(np.float32)
    small += cv2.GaussianBlur(fine, (0, 0), 0.7)[..., None]
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _perspective(yaw: float, pitch: float, centre: np.ndarray, focal: float) -> np.ndarray:
    """Homography of the canvas plane turned by yaw/pitch about ``centre`` at distance ``focal``."""
    cy_, sy_ = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    r_yaw = np.array([[cy_, 0, sy_], [0, 1, 0], [-sy_, 0, cy_]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r = r_yaw @ r_pitch
    k = np.array([[focal, 0, centre[0]], [0, focal, centre[1]], [0, 0, 1.0]])
    to_plane = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1.0]])
    h = k @ np.column_stack([r[:, 0], r[:, 1], [0, 0, focal]]) @ to_plane
    return h / h[2, 2]


def _project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    return p[:, :2] / p[:, 2:3]


def render_photo(
    identity: Identity, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One photo of ``identity``: (uint8 RGB image, uint8 0/255 mask, (5,2) landmarks in the photo)."""
    w = int(rng.integers(PHOTO_SIDE[0], PHOTO_SIDE[1] + 1))
    h = int(rng.integers(PHOTO_SIDE[0], PHOTO_SIDE[1] + 1))
    lm = identity.landmarks
    mid, _, _, iod = _frame(canonical_landmarks())
    xm = float(mid[0])

    flip = np.array([[-1.0, 0, 2 * xm], [0, 1, 0], [0, 0, 1]]) if rng.random() < 0.5 else np.eye(3)
    persp = _perspective(
        math.radians(rng.uniform(-YAW_DEG, YAW_DEG)),
        math.radians(rng.uniform(-PITCH_DEG, PITCH_DEG)),
        canonical_landmarks().mean(0),
        focal=500.0,
    )
    roll = math.radians(rng.uniform(-ROLL_DEG, ROLL_DEG))
    scale = rng.uniform(*PHOTO_IOD_PX) / iod
    # Region that must stay in the photo: brows to chin, cheek to cheek.
    box = np.array([mid + iod * np.array([sx, sy]) for sx in (-1.15, 1.15) for sy in (-0.9, 2.05)])
    margin = 8.0
    for _ in range(4):
        sim = np.eye(3)
        sim[:2, :2] = scale * _rot(roll)
        pts = _project(sim @ persp @ flip, box)
        span = pts.max(0) - pts.min(0)
        fit = min((w - 2 * margin) / span[0], (h - 2 * margin) / span[1])
        if fit >= 1.0:
            break
        scale *= fit * 0.98
    lo = margin - pts.min(0)
    hi = np.array([w, h]) - margin - pts.max(0)
    t = lo + rng.uniform(0, 1, size=2) * np.maximum(hi - lo, 0)
    sim[:2, 2] = t
    total = sim @ persp @ flip

    canvas = identity.canvas
    if scale < 0.95:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigmaX=0.4 / scale)
    fg = cv2.warpPerspective(
        canvas.astype(np.float32),
        total,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    alpha = cv2.warpPerspective(
        _matte("canvas"),
        total,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    mask = cv2.warpPerspective(
        identity.mask,
        total,
        (w, h),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    bg = _background(rng, w, h)
    img = cv2.blendLinear(fg, bg, alpha, 1.0 - alpha)

    # Lighting: a directional ramp, brightness, contrast and colour cast folded into one gain map
    # (built small, it is smooth) and an offset: ((img * ramp) - 128) * contrast + 128) * gains.
    ramp = _ramp(rng.uniform(0, 2 * math.pi), max(2, w // 8), max(2, h // 8))
    ramp = 1.0 + np.float32(rng.uniform(0.0, 0.35)) * ramp
    gains = (rng.uniform(0.8, 1.15) * rng.uniform(0.92, 1.08, size=3)).astype(np.float32)
    contrast = np.float32(rng.uniform(0.8, 1.2))
    gain_map = cv2.resize(
        ramp[..., None] * (contrast * gains), (w, h), interpolation=cv2.INTER_LINEAR
    )
    img *= gain_map
    img += (128.0 * (1.0 - contrast)) * gains + 0.5
    sigma = rng.uniform(*BLUR_SIGMA)
    if sigma > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(*NOISE_SIGMA))
    np.clip(img, 0, 255, out=img)
    img8 = img.astype(np.uint8)
    gamma = rng.uniform(0.8, 1.25)
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
    img8 = cv2.LUT(img8, lut)
    return img8, mask, _project(total, lm)


def _jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _png_bytes(gray: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", gray)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


# --------------------------------------------------------------------------------------------------
# The dataset


def _readme(summary_lines: list[str]) -> str:
    return "\n".join(
        [
            "DysmorphDesk synthetic face dataset",
            "===================================",
            "",
            "SYNTHETIC DATA FOR DEMONSTRATION ONLY. These are not photographs of patients and carry no",
            "clinical information. Models trained on them demonstrate the software; they must never be",
            "used to screen real people.",
            "",
            *summary_lines,
            "",
            "How it was made",
            "---------------",
            "Source faces: the two public-domain portraits bundled with DysmorphDesk (Eileen Collins, NASA;",
            "Grace Hopper, U.S. Navy), aligned by their five landmarks into a canonical canvas, plus their",
            "mirrored left and right half-faces. Each synthetic identity is a cross-dissolve of two of these",
            "(separate weights for the inner face and the rest), a random colour/skin-tone shift and a small",
            "random smooth warp (face width, eye spacing and height, nose length and width, mouth, chin).",
            "",
            "Class-defining change (a smooth displacement field of Gaussian-weighted local displacements):",
            f"  syndromic_like: each eye region moved outward by {EYE_SHIFT_IOD[0]:.0%}-{EYE_SHIFT_IOD[1]:.0%} of the",
            f"    inter-ocular distance and rotated {SLANT_DEG[0]:.0f}-{SLANT_DEG[1]:.0f} degrees outer corner up; the nose",
            f"    shortened by {MIDFACE[0]:.0%}-{MIDFACE[1]:.0%} and widened (strength drawn per identity, +-15% jitter).",
            "  control: displacements of the same kinds and magnitudes placed away from eyes and nose",
            "    (a symmetric pair at temples, cheeks, jaw or ear/hair region, plus forehead or chin).",
            "masks/ holds, for every image, the region whose geometry the class change moved by more than",
            f"{MASK_THRESHOLD_PX:g} px in the canonical canvas (dilated by {MASK_DILATE_PX} px), warped like the image.",
            "",
            "Each identity is photographed several times: random roll (+-15 deg), size (inter-ocular",
            "45-110 px), position, mild yaw/pitch, mirror, random background, lighting, blur, sensor noise",
            "and JPEG quality 75-95. All photos of one identity share its patient_id and label.",
            "age_months and sex are random metadata drawn independently of the face and of the label.",
            "",
            "Files: labels.csv (path,label,patient_id,age_months,sex), identities.csv (per-identity",
            "strength and recipe), images/<class>/NNNNN.jpg, masks/<class>/NNNNN.png.",
            "",
        ]
    )


def make_synthetic(
    out_dir: Path,
    per_class: int,
    *,
    seed: int = 0,
    photos_per_identity: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticSummary:
    """Write ``per_class`` images of each class to ``out_dir`` (which must not exist or be empty)."""
    out_dir = Path(out_dir)
    if per_class < 1:
        raise UsageError("per_class must be at least 1")
    if photos_per_identity < 1:
        raise UsageError("photos_per_identity must be at least 1")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UsageError(f"{out_dir} exists and is not an empty folder; choose a new output folder")

    ids_per_class = math.ceil(per_class / photos_per_identity)
    master = np.random.SeedSequence([int(seed), 0x5D5])
    order_rng = np.random.default_rng(master.spawn(1)[0])
    labels = [c for c in CLASSES for _ in range(ids_per_class)]
    labels = [labels[i] for i in order_rng.permutation(len(labels))]
    child_seeds = master.spawn(len(labels))
    remaining = {c: per_class for c in CLASSES}

    for c in CLASSES:
        (out_dir / "images" / c).mkdir(parents=True, exist_ok=True)
        (out_dir / "masks" / c).mkdir(parents=True, exist_ok=True)
    total = per_class * len(CLASSES)
    rows: list[list[str]] = []
    ident_rows: list[list[str]] = []
    index = 0
    for k, (label, child) in enumerate(zip(labels, child_seeds, strict=False)):
        rng = np.random.default_rng(child)
        n_photos = min(photos_per_identity, remaining[label])
        remaining[label] -= n_photos
        ident = make_identity(f"SYN-{k + 1:04d}", label, rng)
        ident_rows.append([ident.patient_id, label, f"{ident.strength:.3f}", ident.recipe])
        for _ in range(n_photos):
            img, mask, _ = render_photo(ident, rng)
            quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
            rel = f"images/{label}/{index:05d}.jpg"
            (out_dir / rel).write_bytes(_jpeg_bytes(img, quality))
            (out_dir / "masks" / label / f"{index:05d}.png").write_bytes(_png_bytes(mask))
            rows.append([rel, label, ident.patient_id, str(ident.age_months), ident.sex])
            index += 1
            if progress is not None:
                progress(index, total)

    with open(out_dir / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["path", "label", "patient_id", "age_months", "sex"])
        writer.writerows(rows)
    with open(out_dir / "identities.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["patient_id", "label", "strength", "recipe"])
        writer.writerows(ident_rows)

    description = (
        f"{GENERATOR_VERSION}: {index} synthetic images of {len(labels)} identities "
        f"({per_class} per class, up to {photos_per_identity} photos per identity), seed {seed}; "
        "for demonstration only"
    )
    (out_dir / "README.txt").write_text(
        _readme(
            [
                f"Generator: {GENERATOR_VERSION} (dysmorph_desk.training.synthetic)",
                f"Seed: {seed}",
                f"Images: {index} ({per_class} per class: {', '.join(CLASSES)})",
                f"Identities: {len(labels)} (up to {photos_per_identity} photos each)",
            ]
        ),
        encoding="utf-8",
    )
    return SyntheticSummary(
        out_dir=out_dir,
        n_images=index,
        n_identities=len(labels),
        per_class=per_class,
        seed=int(seed),
        description=description,
    )


__all__ = [
    "CLASSES",
    "Bump",
    "SyntheticSummary",
    "Warp",
    "base_faces",
    "canonical_landmarks",
    "class_warp",
    "identity_warp",
    "make_identity",
    "make_synthetic",
    "render_photo",
    "warp_image",
]
