"""Drawing a heatmap over a photo: colormaps (incl. colour-blind-safe ones), alpha blending, and the
colour scale a colour bar shows beside the maps."""

from __future__ import annotations

import cv2
import numpy as np

# OpenCV colormaps by the names users pick. viridis/cividis are perceptually uniform and safe for
# red-green colour blindness; jet is what the papers print, kept for comparison with them.
COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "cividis": cv2.COLORMAP_CIVIDIS,
    "inferno": cv2.COLORMAP_INFERNO,
    "magma": cv2.COLORMAP_MAGMA,
}
COLORBLIND_SAFE = ("viridis", "cividis")
# viridis by default: perceptually uniform, monotonic in lightness (so it survives a greyscale
# printer) and readable with red-green colour blindness, unlike jet. Of the two safe maps, viridis
# has the wider hue range (purple -> teal -> green -> yellow), which stays distinct from skin tones
# and from blue photo backgrounds; cividis (navy -> grey -> yellow) blends its low end into blue
# backgrounds and its high end into skin. jet stays selectable (what the papers print), and a
# user's saved choice, jet included, is kept.
DEFAULT_COLORMAP = "viridis"
DEFAULT_OPACITY = 0.45
COLOUR_BAR_LABEL = "less ↔ more influence"  # under every colour bar (report and app)


def colorize(heat: np.ndarray, colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """(H, W) float in [0, 1] -> (H, W, 3) uint8 RGB."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose from {', '.join(COLORMAPS)}")
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    heat8 = (np.clip(heat, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    bgr = cv2.applyColorMap(heat8, COLORMAPS[colormap])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay_heatmap(
    rgb: np.ndarray,
    heat: np.ndarray,
    colormap: str = DEFAULT_COLORMAP,
    opacity: float = DEFAULT_OPACITY,
    weight_by_heat: bool = False,
) -> np.ndarray:
    """Blend a heatmap over an RGB image of the same size.

    With ``weight_by_heat`` the opacity scales with the heat, so cold regions of the original photo
    stay visible (used on the full photo, where most of the frame is not the face).
    """
    if rgb.shape[:2] != heat.shape[:2]:
        heat = cv2.resize(
            heat.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR
        )
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    color = colorize(heat, colormap).astype(np.float32)
    alpha = np.float32(opacity)
    if weight_by_heat:
        alpha = (opacity * np.clip(np.nan_to_num(heat), 0, 1)).astype(np.float32)[..., None]
    out = rgb.astype(np.float32) * (1 - alpha) + color * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def colour_scale(colormap: str = DEFAULT_COLORMAP, steps: int = 256) -> np.ndarray:
    """The colormap from no influence (left) to the most (right): (steps, 3) uint8 RGB.

    What a colour bar draws beside the heatmaps, so the bar and the maps always share one scale.
    """
    return colorize(np.linspace(0.0, 1.0, max(2, int(steps)), dtype=np.float32)[None, :], colormap)[
        0
    ]
