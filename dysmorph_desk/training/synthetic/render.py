"""Synthetic identities and their photographs: mixing base faces, then rendering varied photos.

An identity is a cross-dissolve of two base faces with a colour shift, an identity warp and its
class-defining change, plus random age/sex metadata. Each identity is then photographed several
times under a random similarity, a mild yaw/pitch homography, a random background, lighting,
blur and noise; its mask and landmarks follow exactly the same geometry as the pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from dysmorph_desk.training.synthetic.faces import _matte, base_faces, class_warp, identity_warp
from dysmorph_desk.training.synthetic.params import (
    AGE_RANGE_MONTHS,
    BLUR_SIGMA,
    NOISE_SIGMA,
    PHOTO_IOD_PX,
    PHOTO_SIDE,
    PITCH_DEG,
    ROLL_DEG,
    SEXES,
    YAW_DEG,
    canonical_landmarks,
)
from dysmorph_desk.training.synthetic.warps import _frame, _rot, warp_image


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
    lab: np.ndarray = cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
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
    img: np.ndarray = cv2.blendLinear(fg, bg, alpha, 1.0 - alpha)  # float32, like fg and bg

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
    img8: np.ndarray = img.astype(np.uint8)
    gamma = rng.uniform(0.8, 1.25)
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
    img8 = cv2.LUT(img8, lut)
    return img8, mask, _project(total, lm)
