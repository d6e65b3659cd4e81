"""Wider identity variation for the syndrome world, and expressions that vary between photos.

The two-class set (``render.make_identity``) mixes the six base faces (two portraits and their
mirrored halves) with one blend weight and shifts the colour a little, so different children look
alike; nearest-neighbour matching on such faces would be trivial. Children here differ in more
ways, all drawn from the child's own random stream:

- *features mixed by region*: eyes, nose, mouth and the rest of the face each take their own blend
  of two base faces, so one child has one portrait's eyes and the other's mouth;
- *face shape*: a stronger identity warp than the two-class set's (face width and length, forehead
  height, eye size and spacing, nose length and width, mouth width and height, lips, cheeks, ear
  height, brow height; a few per cent each, smaller than any syndrome feature's range);
- *skin*: the whole-canvas colour shift plus a separate skin-tone shift of the face and a skin
  texture from smooth to unchanged;
- *hair*: the hair (or headwear) around the face recoloured towards one of several hair colours.

Photos of one child differ in pose, light, background, blur, noise and compression (``render``) and
here also in *expression*: a smile (mouth corners up and out, cheeks raised), raised brows or a
squint, each sometimes and mildly. The expression moves the child's syndrome mask and landmarks
with the pixels.

The two-class set uses it when asked (``make_synthetic(..., variation="wide")``, the CLI's
default, which the shipped demonstration bundles were trained on): ``make_varied_class_identity``
gives a child this wider variation and then the two-class change (``faces.class_warp``). With
``variation="narrow"`` its files stay identical to earlier releases for a given seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np

from dysmorph_desk.training.synthetic.faces import _matte, base_faces, class_warp
from dysmorph_desk.training.synthetic.features import Frame, feature_warp
from dysmorph_desk.training.synthetic.params import (
    AGE_RANGE_MONTHS,
    CANVAS,
    SEXES,
    canonical_landmarks,
)
from dysmorph_desk.training.synthetic.render import Identity, _shift_colour
from dysmorph_desk.training.synthetic.warps import Warp, _bump, _local_linear, warp_image

# Hair colours in CIE Lab (L 0-100): black, dark brown, brown, light brown, blond, red, grey.
HAIR_LAB = (
    (18.0, 2.0, 3.0),
    (28.0, 7.0, 13.0),
    (38.0, 10.0, 20.0),
    (50.0, 9.0, 24.0),
    (68.0, 4.0, 30.0),
    (42.0, 28.0, 36.0),
    (66.0, 0.0, 3.0),
)


def _ellipse_matte(centre: np.ndarray, axes: tuple[float, float], blur: float) -> np.ndarray:
    m = np.zeros((CANVAS, CANVAS), np.float32)
    cv2.ellipse(
        m,
        (round(float(centre[0])), round(float(centre[1]))),
        (max(1, round(axes[0])), max(1, round(axes[1]))),
        0,
        0,
        360,
        1.0,
        -1,
    )
    return cv2.GaussianBlur(m, (0, 0), sigmaX=blur)


_REGIONS: dict[str, np.ndarray] = {}


def _region(name: str) -> np.ndarray:
    """Soft mattes of the canonical face: eyes, nose, mouth, hair (cached)."""
    if name not in _REGIONS:
        f = Frame.of(canonical_landmarks())
        iod = f.iod
        if name == "eyes":
            m = _ellipse_matte(f.at(0, -0.05), (0.95 * iod, 0.32 * iod), 0.12 * iod)
        elif name == "nose":
            m = _ellipse_matte(f.at(0, 0.38), (0.3 * iod, 0.36 * iod), 0.1 * iod)
        elif name == "mouth":
            m = _ellipse_matte(f.at(0, 1.16), (0.6 * iod, 0.3 * iod), 0.1 * iod)
        else:  # hair: a head-sized ellipse above the eyes, minus the face
            head = _ellipse_matte(f.at(0, -0.45), (1.55 * iod, 1.25 * iod), 0.15 * iod)
            rows = np.arange(CANVAS, dtype=np.float32)[:, None]
            below = 1.0 / (1.0 + np.exp((rows - float(f.at(0, 0.9)[1])) / (0.1 * iod)))
            m = np.clip(head * below - _matte("face"), 0.0, 1.0)
        _REGIONS[name] = m.astype(np.float32)
    return _REGIONS[name]


def _mix_by_region(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Two base faces blended with separate weights for the outer face, eyes, nose and mouth."""
    bases = base_faces()
    names = sorted(bases)
    a, b = rng.choice(len(names), size=2, replace=False)
    # Weights near 0 or 1 more often than not (Beta(0.5, 0.5)): a region mostly from one face
    # rather than a ghostly half-and-half.
    w_outer = rng.beta(0.5, 0.5) * 0.5
    weight = np.full((CANVAS, CANVAS), w_outer, np.float32)
    weight += (rng.beta(0.5, 0.5) - w_outer) * _matte("face")
    parts = []
    for region in ("eyes", "nose", "mouth"):
        w = rng.beta(0.5, 0.5)
        m = _region(region)
        weight = weight * (1 - m) + w * m
        parts.append(f"{region} {w:.2f}")
    w3 = weight[..., None]
    face = (1 - w3) * bases[names[a]] + w3 * bases[names[b]]
    recipe = f"{names[a]} blended with {names[b]} (outer {w_outer:.2f}, " + ", ".join(parts) + ")"
    return face, recipe


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255.0


def _skin_and_hair(face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Skin tone and texture of the face, colour of the hair."""
    lab = _lab(face)
    skin = _matte("face")[..., None]
    tone = np.array([rng.uniform(-14, 10), rng.uniform(-3, 5), rng.uniform(-6, 10)], np.float32)
    lab = lab + skin * tone
    hair_i = int(rng.integers(0, len(HAIR_LAB)))
    hair = _region("hair")
    strength = rng.uniform(0.6, 0.95)
    hw = hair[..., None]
    mean = (lab * hw).sum((0, 1)) / max(float(hw.sum()), 1.0)
    target = np.array(HAIR_LAB[hair_i], np.float32)
    recol = np.empty_like(lab)
    recol[..., 0] = target[0] + 0.8 * (lab[..., 0] - mean[0])
    recol[..., 1:] = target[1:] + 0.5 * (lab[..., 1:] - mean[1:])
    lab = lab + strength * hw * (recol - lab)
    out = _rgb(lab)
    smooth = rng.uniform(0.0, 1.6)
    if smooth > 0.3:
        blurred = cv2.GaussianBlur(out, (0, 0), sigmaX=smooth)
        out = out + skin * (blurred - out)
    recipe = f"skin {tone[0]:+.0f}L, hair colour {hair_i}, skin smoothing {smooth:.1f}"
    return out, recipe


def identity_shape_warp(landmarks: np.ndarray, rng: np.random.Generator) -> Warp:
    """A random smooth warp giving a child its own face shape (each part a few per cent).

    Larger than ``faces.identity_warp`` and with more parts, but each below the smallest amount of
    the syndrome feature on the same axis (``features.FEATURES``), so a syndrome stays visible.
    """
    f = Frame.of(landmarks)
    u = rng.uniform
    spacing, eye_h, eye_size = u(-0.04, 0.04), u(-0.04, 0.04), u(-0.08, 0.08)
    width, length, forehead = u(-0.06, 0.06), u(-0.07, 0.07), u(-0.07, 0.07)
    nose_w, nose_l = u(-0.1, 0.1), u(-0.08, 0.08)
    mouth_w, mouth_y, lips = u(-0.1, 0.1), u(-0.035, 0.035), u(-0.2, 0.2)
    cheeks, ears, brows = u(-0.1, 0.1), u(-0.06, 0.06), u(-0.03, 0.03)
    nose_len = float(np.linalg.norm(f.nose - f.mid))
    iod, ex, ey = f.iod, f.ex, f.ey
    bumps = []
    for side, lm in ((-1.0, f.landmarks[0]), (1.0, f.landmarks[1])):
        bumps.append(
            _bump(
                lm,
                f.sig(0.32, 0.24),
                iod * (side * spacing * ex + eye_h * ey),
                _local_linear(ex, ey, eye_size, eye_size),
            )
        )
        bumps.append(_bump(f.at(side * 0.95, 0.7), f.sig(0.45, 0.6), side * width * iod * ex))
        bumps.append(_bump(f.at(side * 0.62, 0.75), f.sig(0.28, 0.28), linear=cheeks * np.eye(2)))
        bumps.append(_bump(f.at(side * 1.12, 0.3), f.sig(0.2, 0.35), ears * iod * ey))
        bumps.append(_bump(f.at(side * 0.5, -0.32), f.sig(0.2, 0.12), -brows * iod * ey))
    bumps += [
        _bump(f.mid, (0.3 * iod, 0.8 * nose_len), linear=_local_linear(ex, ey, nose_w, nose_l)),
        _bump(f.mouth, f.sig(0.5, 0.25), mouth_y * iod * ey, _local_linear(ex, ey, mouth_w, 0.0)),
        _bump(f.mouth, f.sig(0.42, 0.16), linear=_local_linear(ex, ey, 0.0, lips)),
        _bump(f.at(0.0, 1.85), f.sig(0.6, 0.45), length * iod * ey),
        _bump(f.at(0.0, -1.0), f.sig(0.9, 0.45), -forehead * iod * ey),
    ]
    return Warp(tuple(bumps))


def make_varied_identity(
    patient_id: str, label: str, levels: dict[str, float], rng: np.random.Generator
) -> Identity:
    """One child: region-mixed base faces, skin, hair, face shape, then its syndrome's features.

    Args:
        patient_id: the pseudonymous id.
        label: what the child is labelled (a disorder id, or ``unrelated``).
        levels: feature name -> level (``features.feature_warp``), anchored at this child's own
            landmarks; empty for a child with no syndrome.
        rng: the child's face stream.
    """
    return _varied(
        patient_id,
        label,
        rng,
        lambda lm: (feature_warp(lm, levels), max(levels.values(), default=0.0)),
    )


def make_varied_class_identity(patient_id: str, label: str, rng: np.random.Generator) -> Identity:
    """One child of the two-class set with the wider variation, then its class change.

    The same face, skin, hair and shape steps as ``make_varied_identity``; the change is the
    two-class set's (``faces.class_warp``: syndromic-like eyes and midface, or a control change of
    the same size elsewhere) at a random strength, anchored at this child's own landmarks.

    Args:
        patient_id: the pseudonymous id.
        label: ``syndromic_like`` or ``control``.
        rng: the child's stream.
    """

    def change(lm: np.ndarray) -> tuple[Warp, float]:
        strength = float(rng.uniform(0.0, 1.0))
        return class_warp(label, lm, strength, rng), strength

    return _varied(patient_id, label, rng, change)


def _varied(
    patient_id: str,
    label: str,
    rng: np.random.Generator,
    change_at: Callable[[np.ndarray], tuple[Warp, float]],
) -> Identity:
    """Face, skin, hair and shape from ``rng``, then ``change_at(landmarks)`` -> (warp, strength),
    then age and sex: the order of draws is part of what a seed produces."""
    face, mix = _mix_by_region(rng)
    face = _shift_colour(face, rng)
    face, looks = _skin_and_hair(face, rng)
    canon = canonical_landmarks()
    shape = identity_shape_warp(canon, rng)
    lm_shape = shape.forward(canon)
    change, strength = change_at(lm_shape)
    warped, mask = warp_image(face, [shape, change], class_warp_index=1)
    assert mask is not None
    return Identity(
        patient_id=patient_id,
        label=label,
        age_months=int(rng.integers(AGE_RANGE_MONTHS[0], AGE_RANGE_MONTHS[1] + 1)),
        sex=str(SEXES[int(rng.integers(0, 2))]),
        strength=strength,
        recipe=f"{mix}; {looks}",
        canvas=np.clip(warped + 0.5, 0, 255).astype(np.uint8),
        mask=mask,
        landmarks=change.forward(lm_shape),
    )


def expression_warp(landmarks: np.ndarray, rng: np.random.Generator) -> tuple[Warp, str]:
    """A mild expression for one photo (sometimes a smile, raised brows or a squint) and its name."""
    f = Frame.of(landmarks)
    iod, ex, ey = f.iod, f.ex, f.ey
    smile = rng.uniform(0.3, 1.0) if rng.random() < 0.5 else 0.0
    brows = rng.uniform(0.3, 1.0) if rng.random() < 0.3 else 0.0
    squint = rng.uniform(0.3, 1.0) if rng.random() < 0.2 else 0.0
    bumps = []
    if smile:
        for side, corner in ((-1.0, f.landmarks[3]), (1.0, f.landmarks[4])):
            shift = iod * smile * (side * 0.05 * ex - 0.05 * ey)
            bumps.append(_bump(corner, f.sig(0.18, 0.15), shift))
            bumps.append(_bump(f.at(side * 0.6, 0.75), f.sig(0.25, 0.25), -0.03 * smile * iod * ey))
    if brows:
        for side in (-1.0, 1.0):
            bumps.append(_bump(f.at(side * 0.5, -0.32), f.sig(0.3, 0.14), -0.05 * brows * iod * ey))
    if squint:
        lin = _local_linear(ex, ey, 0.0, -0.25 * squint)
        bumps.extend(_bump(p, f.sig(0.25, 0.12), linear=lin) for p in f.landmarks[:2])
    parts = [
        f"{k} {v:.2f}" for k, v in (("smile", smile), ("brows", brows), ("squint", squint)) if v
    ]
    return Warp(tuple(bumps)), ", ".join(parts) or "neutral"


def with_expression(identity: Identity, rng: np.random.Generator) -> tuple[Identity, str]:
    """The child for one photo, with an expression warp on its canvas, mask and landmarks."""
    warp, name = expression_warp(identity.landmarks, rng)
    if not warp.bumps:
        return identity, name
    canvas, _ = warp_image(identity.canvas.astype(np.float32), [warp])
    mask, _ = warp_image(identity.mask.astype(np.float32), [warp])
    moved = dataclasses.replace(
        identity,
        canvas=np.clip(canvas + 0.5, 0, 255).astype(np.uint8),
        mask=np.where(mask > 127.5, 255, 0).astype(np.uint8),
        landmarks=warp.forward(identity.landmarks),
    )
    return moved, name
