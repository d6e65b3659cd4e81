"""How one photo is screened: the one options object the CLI builds, the app sends to the engine
(inside ``engine.protocol.Screen``) and ``Screener.screen`` reads. No torch, no Qt."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dysmorph_desk.explain.methods import DEFAULT_CAM_METHOD
from dysmorph_desk.faces.image import DEFAULT_MAX_PIXELS, DEFAULT_WORKING_LONG_SIDE
from dysmorph_desk.faces.quality import QualityLimits


@dataclass
class ScreenOptions:
    """Which face, which heatmap, and the limits for one screening.

    Example:
        >>> ScreenOptions(face_index=2, cam_method=None)  # second-largest face, no heatmap
        ... # doctest: +ELLIPSIS
        ScreenOptions(face_index=2, cam_method=None, ...)
    """

    face_index: int = 1  # 1 = largest face, 2 = next...
    cam_method: str | None = DEFAULT_CAM_METHOD  # None: probabilities only
    cam_target: str | None = None  # class id; None = the syndromic class (one) or the predicted
    force_assess: bool = False
    manual_landmarks: np.ndarray | None = None  # (5, 2) photo pixels, when detection failed
    max_pixels: int = DEFAULT_MAX_PIXELS
    working_long_side: int | None = DEFAULT_WORKING_LONG_SIDE
    limits: QualityLimits = field(default_factory=QualityLimits)
