"""Drawable facial features: each a smooth local warp of a synthetic face, tied to one HPO term.

A synthetic syndrome's face is a combination of these (``feature_warp``), so every change in the
photo has the HPO term a clinician would use for it: wider-set eyes are Hypertelorism
(HP:0000316), a longer distance from nose to mouth is Long philtrum (HP:0000343), and so on. The
features work on what a frontal photo shows (distances, widths, slants, heights); those that need
depth (deep-set eyes, a flat nasal bridge in profile) or skin detail (epicanthus, a smooth philtrum)
are left out because a warp of the photo cannot draw them.

Each feature has an *axis* (at most one feature per axis in a syndrome: a face cannot have both
hypertelorism and hypotelorism), an amount range in its own unit (a fraction of the inter-ocular
distance, a relative change, degrees), and a *measure*: a number computed from probe points on the
face (``probe_points``) that the feature is meant to change, with the direction it should move.
The measures document what each feature does and let the tests check it on the warped points.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dysmorph_desk.training.synthetic.warps import Bump, Warp, _bump, _frame, _local_linear, _rot


@dataclass(frozen=True)
class Frame:
    """The face's own axes: eye midpoint, unit eye axis, unit downward axis, inter-ocular distance."""

    mid: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    iod: float
    landmarks: np.ndarray

    @classmethod
    def of(cls, landmarks: np.ndarray) -> Frame:
        lm = np.asarray(landmarks, dtype=np.float64)
        mid, ex, ey, iod = _frame(lm)
        return cls(mid, ex, ey, iod, lm)

    def at(self, x: float, y: float) -> np.ndarray:
        """The point ``x`` eye distances to the image right and ``y`` below the eye midpoint."""
        return self.mid + self.iod * (x * self.ex + y * self.ey)

    @property
    def nose(self) -> np.ndarray:
        return self.landmarks[2]

    @property
    def mouth(self) -> np.ndarray:
        return (self.landmarks[3] + self.landmarks[4]) / 2.0

    def sig(self, sx: float, sy: float) -> tuple[float, float]:
        return (sx * self.iod, sy * self.iod)


def _g(d: float, sigma: float) -> float:
    """Gaussian weight at distance ``d`` from a bump's centre (to turn a wanted change at a landmark
    into the bump's amplitude)."""
    return math.exp(-0.5 * (d / sigma) ** 2)


def _pair(f: Frame, x: float, y: float, sigma, shift_x=0.0, shift_y=0.0, linear=None) -> list[Bump]:
    """A mirrored pair of bumps at (-x, y) and (x, y); ``shift_x`` > 0 moves both outward and a
    ``linear`` map is mirrored for the image-left one."""
    out = []
    for side in (-1.0, 1.0):
        lin = None
        if linear is not None:
            m = np.diag([side, 1.0])
            lin = m @ np.asarray(linear) @ m
        shift = f.iod * (side * shift_x * f.ex + shift_y * f.ey)
        out.append(_bump(f.at(side * x, y), f.sig(*sigma), shift, lin))
    return out


# --- builders: (frame, signed amount) -> bumps. A positive amount is the "more" direction. ---


def _eye_distance(f: Frame, a: float) -> list[Bump]:
    return _pair(f, 0.5, 0.0, (0.32, 0.24), shift_x=a)


def _slant(f: Frame, a: float) -> list[Bump]:
    # Image-left eye: rotating by +theta lifts its outer (left) end; mirrored for the right eye.
    theta = math.radians(a)
    return [
        _bump(f.landmarks[0], f.sig(0.32, 0.24), linear=_rot(theta) - np.eye(2)),
        _bump(f.landmarks[1], f.sig(0.32, 0.24), linear=_rot(-theta) - np.eye(2)),
    ]


def _palpebral_length(f: Frame, a: float) -> list[Bump]:
    lin = _local_linear(f.ex, f.ey, a / _g(0.16, 0.22), 0.0)
    return [_bump(p, f.sig(0.22, 0.16), linear=lin) for p in f.landmarks[:2]]


def _palpebral_height(f: Frame, a: float) -> list[Bump]:
    lin = _local_linear(f.ex, f.ey, 0.0, a)
    return [_bump(p, f.sig(0.25, 0.12), linear=lin) for p in f.landmarks[:2]]


def _brow_arch(f: Frame, a: float) -> list[Bump]:
    return _pair(f, 0.5, -0.32, (0.14, 0.12), shift_y=-a)


def _nasal_bridge(f: Frame, a: float) -> list[Bump]:
    return [_bump(f.at(0.0, 0.2), f.sig(0.17, 0.25), linear=_local_linear(f.ex, f.ey, a, 0.0))]


_NOSE_G_TIP = math.exp(-0.5 / 0.8**2)  # weight at the nose tip of a bump at the eye midpoint


def _nose_length(f: Frame, a: float) -> list[Bump]:
    nose_len = float(np.linalg.norm(f.nose - f.mid))
    lin = _local_linear(f.ex, f.ey, 0.0, a / _NOSE_G_TIP)
    return [_bump(f.mid, (0.35 * f.iod, 0.8 * nose_len), linear=lin)]


def _nose_width(f: Frame, a: float) -> list[Bump]:
    lin = _local_linear(f.ex, f.ey, a / _g(0.18, 0.28), 0.0)
    return [_bump(f.nose, f.sig(0.28, 0.18), linear=lin)]


def _philtrum(f: Frame, a: float) -> list[Bump]:
    return [_bump(f.mouth, f.sig(0.55, 0.30), a * f.iod * f.ey)]


def _mouth_width(f: Frame, a: float) -> list[Bump]:
    half = float(np.linalg.norm(f.landmarks[4] - f.landmarks[3])) / 2.0 / f.iod
    lin = _local_linear(f.ex, f.ey, a / _g(half, 0.5), 0.0)
    return [_bump(f.mouth, f.sig(0.5, 0.25), linear=lin)]


def _lips(f: Frame, a: float) -> list[Bump]:
    return [_bump(f.mouth, f.sig(0.42, 0.16), linear=_local_linear(f.ex, f.ey, 0.0, a))]


def _face_length(f: Frame, a: float) -> list[Bump]:
    return [
        _bump(f.at(0.0, 1.85), f.sig(0.6, 0.45), a * f.iod * f.ey),
        *_pair(f, 0.8, 1.5, (0.4, 0.4), shift_y=0.7 * a),
    ]


def _face_width(f: Frame, a: float) -> list[Bump]:
    return [
        *_pair(f, 0.95, 0.7, (0.45, 0.6), shift_x=a),
        *_pair(f, 1.0, -0.4, (0.4, 0.45), shift_x=0.7 * a),
    ]


def _triangular(f: Frame, a: float) -> list[Bump]:
    return [
        *_pair(f, 1.0, -0.45, (0.4, 0.45), shift_x=a),
        *_pair(f, 0.8, 1.45, (0.4, 0.4), shift_x=-a),
        _bump(f.at(0.0, 1.85), f.sig(0.5, 0.4), linear=_local_linear(f.ex, f.ey, -0.15, 0.0)),
    ]


def _round(f: Frame, a: float) -> list[Bump]:
    return [
        *_pair(f, 0.9, 1.0, (0.45, 0.55), shift_x=a),
        _bump(f.at(0.0, 1.85), f.sig(0.6, 0.45), -0.6 * a * f.iod * f.ey),
    ]


def _micrognathia(f: Frame, a: float) -> list[Bump]:
    lin = _local_linear(f.ex, f.ey, -0.15, 0.0)
    return [_bump(f.at(0.0, 1.85), f.sig(0.5, 0.4), -a * f.iod * f.ey, lin)]


def _forehead_height(f: Frame, a: float) -> list[Bump]:
    return [_bump(f.at(0.0, -1.0), f.sig(0.9, 0.45), -a * f.iod * f.ey)]


def _forehead_width(f: Frame, a: float) -> list[Bump]:
    return _pair(f, 1.0, -0.55, (0.35, 0.4), shift_x=a)


def _ear_position(f: Frame, a: float) -> list[Bump]:
    return _pair(f, 1.12, 0.3, (0.2, 0.35), shift_y=a)


def _ear_size(f: Frame, a: float) -> list[Bump]:
    return _pair(f, 1.12, 0.3, (0.22, 0.35), linear=a * np.eye(2))


def _cheeks(f: Frame, a: float) -> list[Bump]:
    return _pair(f, 0.62, 0.75, (0.28, 0.28), linear=a * np.eye(2))


# --- probe points and measures --------------------------------------------------------------

# Named points of the canonical face in the face frame (x, y in eye distances from the eye
# midpoint); landmarks are added by ``probe_points``.
_PROBES: dict[str, tuple[float, float]] = {
    "eye_l_outer": (-0.66, 0.0),
    "eye_l_inner": (-0.34, 0.0),
    "eye_r_inner": (0.34, 0.0),
    "eye_r_outer": (0.66, 0.0),
    "lid_l_upper": (-0.5, -0.05),
    "lid_l_lower": (-0.5, 0.05),
    "lid_r_upper": (0.5, -0.05),
    "lid_r_lower": (0.5, 0.05),
    "brow_l": (-0.5, -0.32),
    "brow_r": (0.5, -0.32),
    "bridge_l": (-0.12, 0.2),
    "bridge_r": (0.12, 0.2),
    "lip_upper": (0.0, 1.09),
    "lip_lower": (0.0, 1.23),
    "chin": (0.0, 1.85),
    "cheek_l": (-0.95, 0.7),
    "cheek_r": (0.95, 0.7),
    "jaw_l": (-0.8, 1.45),
    "jaw_r": (0.8, 1.45),
    "temple_l": (-1.0, -0.5),
    "temple_r": (1.0, -0.5),
    "forehead": (0.0, -1.0),
    "ear_l": (-1.12, 0.3),
    "ear_r": (1.12, 0.3),
    "ear_l_top": (-1.12, 0.05),
    "ear_l_bottom": (-1.12, 0.55),
    "ear_r_top": (1.12, 0.05),
    "ear_r_bottom": (1.12, 0.55),
    "cheek_l_out": (-0.82, 0.75),
    "cheek_r_out": (0.82, 0.75),
}


def probe_points(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """The named probe points of a face with these five landmarks (canvas pixels)."""
    f = Frame.of(landmarks)
    pts = {k: f.at(x, y) for k, (x, y) in _PROBES.items()}
    pts.update(
        eye_l=f.landmarks[0],
        eye_r=f.landmarks[1],
        nose=f.landmarks[2],
        mouth_l=f.landmarks[3],
        mouth_r=f.landmarks[4],
        wing_l=f.nose - 0.18 * f.iod * f.ex,
        wing_r=f.nose + 0.18 * f.iod * f.ex,
        mouth=f.mouth,
    )
    return pts


Points = dict[str, np.ndarray]


def _dist(p: Points, a: str, b: str) -> float:
    return float(np.linalg.norm(p[a] - p[b]))


def _ydown(p: Points, a: str, b: str) -> float:
    """How far ``b`` lies below ``a`` (image y grows downwards)."""
    return float(p[b][1] - p[a][1])


def _eye_mid(p: Points) -> Points:
    return {**p, "eye_mid": (p["eye_l"] + p["eye_r"]) / 2.0}


def _slant_deg(p: Points) -> float:
    """Mean angle of inner -> outer corner above the horizontal, degrees (up-slant positive)."""
    left = p["eye_l_outer"] - p["eye_l_inner"]  # points image-left
    right = p["eye_r_outer"] - p["eye_r_inner"]  # points image-right
    return float(np.degrees(math.atan2(-left[1], -left[0]) + math.atan2(-right[1], right[0])) / 2.0)


def _mean(*values: float) -> float:
    return float(sum(values) / len(values))


MEASURES: dict[str, tuple[str, Callable[[Points], float]]] = {
    "eye_distance": ("inter-ocular distance", lambda p: _dist(p, "eye_l", "eye_r")),
    "slant": ("palpebral slant (degrees, up positive)", _slant_deg),
    "palpebral_length": (
        "palpebral fissure length",
        lambda p: _mean(
            _dist(p, "eye_l_outer", "eye_l_inner"), _dist(p, "eye_r_outer", "eye_r_inner")
        ),
    ),
    "palpebral_height": (
        "palpebral fissure height",
        lambda p: _mean(
            _dist(p, "lid_l_upper", "lid_l_lower"), _dist(p, "lid_r_upper", "lid_r_lower")
        ),
    ),
    "brow_height": (
        "brow height above the eyes",
        lambda p: _mean(_ydown(p, "brow_l", "eye_l"), _ydown(p, "brow_r", "eye_r")),
    ),
    "bridge_width": ("nasal bridge width", lambda p: _dist(p, "bridge_l", "bridge_r")),
    "nose_length": ("eye midpoint to nose tip", lambda p: _ydown(_eye_mid(p), "eye_mid", "nose")),
    "nose_width": ("nasal width", lambda p: _dist(p, "wing_l", "wing_r")),
    "philtrum": ("nose tip to mouth", lambda p: _ydown(p, "nose", "mouth")),
    "mouth_width": ("mouth width", lambda p: _dist(p, "mouth_l", "mouth_r")),
    "lip_height": ("vermilion height", lambda p: _ydown(p, "lip_upper", "lip_lower")),
    "face_length": ("eye midpoint to chin", lambda p: _ydown(_eye_mid(p), "eye_mid", "chin")),
    "face_width": ("cheek-to-cheek width", lambda p: _dist(p, "cheek_l", "cheek_r")),
    "taper": (
        "temple width over jaw width",
        lambda p: _dist(p, "temple_l", "temple_r") / _dist(p, "jaw_l", "jaw_r"),
    ),
    "roundness": (
        "lower-face width over face length",
        lambda p: _dist(p, "jaw_l", "jaw_r") / _ydown(_eye_mid(p), "eye_mid", "chin"),
    ),
    "chin_height": ("mouth to chin", lambda p: _ydown(p, "mouth", "chin")),
    "forehead_height": ("forehead to eyes", lambda p: _ydown(_eye_mid(p), "forehead", "eye_mid")),
    "forehead_width": ("temple-to-temple width", lambda p: _dist(p, "temple_l", "temple_r")),
    "ear_height": (
        "ear centre below the eyes",
        lambda p: _mean(_ydown(p, "eye_l", "ear_l"), _ydown(p, "eye_r", "ear_r")),
    ),
    "ear_length": (
        "ear length",
        lambda p: _mean(
            _dist(p, "ear_l_top", "ear_l_bottom"), _dist(p, "ear_r_top", "ear_r_bottom")
        ),
    ),
    "cheek_fullness": ("outer cheek width", lambda p: _dist(p, "cheek_l_out", "cheek_r_out")),
}


@dataclass(frozen=True)
class Feature:
    """One drawable facial change and its HPO term.

    ``amount`` is the (low, high) range of the signed amount handed to the builder (its unit is in
    ``unit``); ``measure`` names the entry of ``MEASURES`` the change moves, in ``direction``.
    """

    name: str
    axis: str
    hpo_id: str
    hpo_name: str
    amount: tuple[float, float]
    unit: str
    build: Callable[[Frame, float], list[Bump]]
    measure: str
    direction: int

    def bumps(self, landmarks: np.ndarray, level: float) -> list[Bump]:
        """The bumps at ``level`` in 0..1 of the amount range (values outside it extrapolate)."""
        lo, hi = self.amount
        return self.build(Frame.of(landmarks), lo + (hi - lo) * float(level))


_IOD = "fraction of the inter-ocular distance"
_REL = "relative change"

# name, axis, HPO id, HPO name (checked against hp.obo by the tests), amount range, unit, builder,
# measure, direction.
FEATURES: tuple[Feature, ...] = (
    Feature("hypertelorism", "eye_distance", "HP:0000316", "Hypertelorism", (0.07, 0.14), _IOD + " per eye", _eye_distance, "eye_distance", 1),
    Feature("hypotelorism", "eye_distance", "HP:0000601", "Hypotelorism", (-0.05, -0.10), _IOD + " per eye", _eye_distance, "eye_distance", -1),
    Feature("upslant", "slant", "HP:0000582", "Upslanted palpebral fissure", (8.0, 16.0), "degrees", _slant, "slant", 1),
    Feature("downslant", "slant", "HP:0000494", "Downslanted palpebral fissures", (-8.0, -16.0), "degrees", _slant, "slant", -1),
    Feature("short_fissure", "palpebral_length", "HP:0012745", "Short palpebral fissure", (-0.15, -0.25), _REL, _palpebral_length, "palpebral_length", -1),
    Feature("long_fissure", "palpebral_length", "HP:0000637", "Long palpebral fissure", (0.15, 0.25), _REL, _palpebral_length, "palpebral_length", 1),
    Feature("narrow_fissure", "palpebral_height", "HP:0045025", "Narrow palpebral fissure", (-0.25, -0.40), _REL, _palpebral_height, "palpebral_height", -1),
    Feature("arched_brow", "brow", "HP:0002553", "Highly arched eyebrow", (0.05, 0.09), _IOD, _brow_arch, "brow_height", 1),
    Feature("wide_bridge", "nasal_bridge", "HP:0000431", "Wide nasal bridge", (0.35, 0.6), _REL, _nasal_bridge, "bridge_width", 1),
    Feature("short_nose", "nose_length", "HP:0003196", "Short nose", (-0.12, -0.22), _REL, _nose_length, "nose_length", -1),
    Feature("long_nose", "nose_length", "HP:0003189", "Long nose", (0.10, 0.18), _REL, _nose_length, "nose_length", 1),
    Feature("wide_nose", "nose_width", "HP:0000445", "Wide nose", (0.18, 0.30), _REL, _nose_width, "nose_width", 1),
    Feature("narrow_nose", "nose_width", "HP:0000460", "Narrow nose", (-0.15, -0.25), _REL, _nose_width, "nose_width", -1),
    Feature("long_philtrum", "philtrum", "HP:0000343", "Long philtrum", (0.06, 0.12), _IOD, _philtrum, "philtrum", 1),
    Feature("short_philtrum", "philtrum", "HP:0000322", "Short philtrum", (-0.05, -0.09), _IOD, _philtrum, "philtrum", -1),
    Feature("wide_mouth", "mouth_width", "HP:0000154", "Wide mouth", (0.15, 0.28), _REL, _mouth_width, "mouth_width", 1),
    Feature("narrow_mouth", "mouth_width", "HP:0000160", "Narrow mouth", (-0.15, -0.25), _REL, _mouth_width, "mouth_width", -1),
    Feature("thick_lips", "lips", "HP:0012471", "Thick vermilion border", (0.3, 0.5), _REL, _lips, "lip_height", 1),
    Feature("thin_lips", "lips", "HP:0000233", "Thin vermilion border", (-0.3, -0.45), _REL, _lips, "lip_height", -1),
    Feature("long_face", "face_length", "HP:0000276", "Long face", (0.12, 0.22), _IOD, _face_length, "face_length", 1),
    Feature("short_face", "face_length", "HP:0011219", "Short face", (-0.08, -0.15), _IOD, _face_length, "face_length", -1),
    Feature("broad_face", "face_shape", "HP:0000283", "Broad face", (0.08, 0.15), _IOD, _face_width, "face_width", 1),
    Feature("narrow_face", "face_shape", "HP:0000275", "Narrow face", (-0.06, -0.12), _IOD, _face_width, "face_width", -1),
    Feature("triangular_face", "face_shape", "HP:0000325", "Triangular face", (0.07, 0.13), _IOD, _triangular, "taper", 1),
    Feature("round_face", "face_shape", "HP:0000311", "Round face", (0.08, 0.14), _IOD, _round, "roundness", 1),
    Feature("micrognathia", "chin", "HP:0000347", "Micrognathia", (0.10, 0.18), _IOD, _micrognathia, "chin_height", -1),
    Feature("high_forehead", "forehead_height", "HP:0000348", "High forehead", (0.12, 0.22), _IOD, _forehead_height, "forehead_height", 1),
    Feature("narrow_forehead", "forehead_width", "HP:0000341", "Narrow forehead", (-0.08, -0.14), _IOD, _forehead_width, "forehead_width", -1),
    Feature("low_set_ears", "ear_position", "HP:0000369", "Low-set ears", (0.15, 0.28), _IOD, _ear_position, "ear_height", 1),
    Feature("macrotia", "ear_size", "HP:0000400", "Macrotia", (0.2, 0.35), _REL, _ear_size, "ear_length", 1),
    Feature("microtia", "ear_size", "HP:0008551", "Microtia", (-0.2, -0.3), _REL, _ear_size, "ear_length", -1),
    Feature("full_cheeks", "cheeks", "HP:0000293", "Full cheeks", (0.25, 0.4), _REL, _cheeks, "cheek_fullness", 1),
)  # fmt: skip
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def feature_warp(landmarks: np.ndarray, levels: dict[str, float]) -> Warp:
    """One warp combining the named features, each at its level (0..1 of its amount range).

    Args:
        landmarks: the face's five canonical landmarks (after its identity warp).
        levels: feature name -> level.

    Example:
        >>> from dysmorph_desk.training.synthetic.params import canonical_landmarks
        >>> w = feature_warp(canonical_landmarks(), {"hypertelorism": 0.5})
        >>> moved = w.forward(canonical_landmarks())
    """
    bumps: list[Bump] = []
    for name in sorted(levels):
        bumps.extend(FEATURES_BY_NAME[name].bumps(landmarks, levels[name]))
    return Warp(tuple(bumps))


def measured_effect(feature: str, level: float, landmarks: np.ndarray | None = None) -> float:
    """How much the feature alone, at ``level``, changes its measure on a face (canonical by
    default): the relative change, or for slant (degrees) and the ear height (eye distances) the
    absolute one."""
    from dysmorph_desk.training.synthetic.params import canonical_landmarks

    lm = canonical_landmarks() if landmarks is None else np.asarray(landmarks, dtype=np.float64)
    feat = FEATURES_BY_NAME[feature]
    before = probe_points(lm)
    names = sorted(before)
    warp = Warp(tuple(feat.bumps(lm, level)))
    moved = warp.forward(np.stack([before[k] for k in names]))
    after = dict(zip(names, moved, strict=True))
    fn = MEASURES[feat.measure][1]
    if feat.measure == "slant":
        return fn(after) - fn(before)
    if feat.measure == "ear_height":
        return (fn(after) - fn(before)) / Frame.of(lm).iod
    return fn(after) / fn(before) - 1.0
