"""The synthetic generator's fixed parameters: classes, canvas geometry and the ranges it draws from.

They are shared by the warps, the faces, the photographs and the dataset's README (which quotes
them), and together with ``GENERATOR_VERSION`` they define what a seed produces; keeping them in
one module makes a change to any of them a visible change to the generator.
"""

from __future__ import annotations

import numpy as np

from dysmorph_desk.faces.align import TEMPLATE

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


def canonical_landmarks() -> np.ndarray:
    """The five template landmarks in canonical-canvas pixels (left eye, right eye, nose, mouth L, R)."""
    return TEMPLATE * float(FACE_SIZE) + float(OFFSET)
