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
        src = cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma)
    image = cv2.warpAffine(
        src, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return AlignedFace(image=np.ascontiguousarray(image), matrix=matrix, size=size)
