"""Five-landmark similarity alignment to DysmorphDesk's canonical template.

The template is kept in normalised coordinates (0..1 of the output side) so one face geometry serves
every model input size: 224 for most networks, 299 for Inception, 112 for iResNet. It is the widely
used ArcFace 112x112 five-point template, shrunk by 0.78 about (0.5, 0.58) so the crop keeps the
forehead, cheeks and chin (where dysmorphic signs are), not just the inner face.

The forward matrix (photo -> aligned) is kept, so a heatmap computed on the aligned face can be
drawn back onto the original photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TEMPLATE_NAME = "dd-arcface-wide-v1"
_ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
_SHRINK, _CENTRE = 0.78, np.array([0.5, 0.58])
# Order: left eye, right eye, nose tip, left mouth corner, right mouth corner (image left/right).
TEMPLATE = _CENTRE + _SHRINK * (_ARCFACE_112 / 112.0 - _CENTRE)
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def template_description() -> dict:
    """What a bundle's manifest records, so a model is always fed faces aligned as in training."""
    return {
        "name": TEMPLATE_NAME,
        "landmarks": list(LANDMARK_NAMES),
        "points": TEMPLATE.round(6).tolist(),
    }


def template_points(size: int, template: np.ndarray | None = None) -> np.ndarray:
    return (TEMPLATE if template is None else np.asarray(template, dtype=np.float64)) * float(size)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst (Umeyama).

    Returns a 2x3 matrix. Closed form, no RANSAC: with five clean landmarks every point counts.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


@dataclass
class AlignedFace:
    image: np.ndarray  # uint8 (size, size, 3)
    matrix: np.ndarray  # 2x3, photo pixels -> aligned pixels
    size: int

    def to_photo(self, heat: np.ndarray, photo_shape: tuple[int, int]) -> np.ndarray:
        """Warp an aligned-space map (size x size) back onto the photo (H, W); zero outside the crop."""
        heat = np.asarray(heat, dtype=np.float32)
        if heat.shape != (self.size, self.size):
            heat = cv2.resize(heat, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        h, w = photo_shape[:2]
        return cv2.warpAffine(
            heat,
            self.matrix,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )


def _blur_sampled_region(
    rgb: np.ndarray, matrix: np.ndarray, size: int, sigma: float
) -> np.ndarray:
    """The photo Gaussian-blurred where a ``size`` x ``size`` warp by ``matrix`` samples it.

    Same pixels there as ``cv2.GaussianBlur(rgb, (0, 0), sigma)`` of the whole photo, at the cost of
    the face's region only: the region the warp reads (its output square mapped back, +2 px for
    bilinear taps and fixed-point coordinates, clamped to the photo as BORDER_REPLICATE clamps) is
    blurred from a window one kernel radius larger, so the blur's own border handling never reaches
    it except at real photo edges, where it is the same. Elsewhere the returned image is zero; the
    warp never reads there.
    """
    h, w = rgb.shape[:2]
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    src = apply_matrix(invert_matrix(matrix), corners)
    radius = int(np.ceil(4 * sigma)) + 1  # OpenCV's 8-bit kernel reaches 3 sigma
    lo = np.floor(src.min(axis=0)) - 2
    hi = np.ceil(src.max(axis=0)) + 2
    x0, x1 = (int(np.clip(v, 0, w - 1)) for v in (lo[0], hi[0]))
    y0, y1 = (int(np.clip(v, 0, h - 1)) for v in (lo[1], hi[1]))
    bx0, by0 = max(0, x0 - radius), max(0, y0 - radius)
    bx1, by1 = min(w, x1 + 1 + radius), min(h, y1 + 1 + radius)
    out = np.zeros(rgb.shape, rgb.dtype)  # calloc: untouched pages cost nothing
    blurred = cv2.GaussianBlur(np.ascontiguousarray(rgb[by0:by1, bx0:bx1]), (0, 0), sigmaX=sigma)
    out[y0 : y1 + 1, x0 : x1 + 1] = blurred[y0 - by0 : y1 + 1 - by0, x0 - bx0 : x1 + 1 - bx0]
    return out


def align_face(
    rgb: np.ndarray, landmarks: np.ndarray, size: int, template: np.ndarray | None = None
) -> AlignedFace:
    """Warp the photo so the five landmarks land on the template scaled to ``size``."""
    matrix = similarity_transform(landmarks, template_points(size, template))
    # Downscaling by a large factor with bilinear sampling aliases; pre-blur in proportion.
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    src = rgb
    if scale < 0.5:
        sigma = 0.5 / scale * 0.5
        src = _blur_sampled_region(rgb, matrix, size, sigma)
    image = cv2.warpAffine(
        src, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return AlignedFace(image=np.ascontiguousarray(image), matrix=matrix, size=size)
