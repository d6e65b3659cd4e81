"""Smooth displacement fields for the synthetic faces: Gaussian-weighted local affine bumps.

Every geometric change the generator makes (aligning a portrait exactly onto the template, a new
identity, the class-defining change) is a ``Warp``: a sum of ``Bump``s, applied with one
``cv2.remap`` through the inverted field. The region a warp moved by more than ~1 px becomes the
mask written next to each image. This module also holds the small geometry helpers (the eye
frame, rotations, local linear maps) that the face and photo code build their bumps with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from dysmorph_desk.training.synthetic.params import CANVAS, MASK_DILATE_PX, MASK_THRESHOLD_PX


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
