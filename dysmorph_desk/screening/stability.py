"""Test-time variants: each model sees the aligned face a few ways, and says how much that moves it.

A screening result should not depend on things that say nothing about the child. Measured on the
demo MobileNetV2 and one portrait, before this module: 0.64 as given, 0.045 mirrored, 0.065 at half
resolution, 0.07 darkened by 30%, 0.94 slightly blurred. So every model runs on the original aligned
face and on a few benign versions of it, in **one batched forward** (the forward graph has a
dynamic batch axis), and

* the result is the softmax of the **mean of their logits** (at the card's temperature): averaging
  log-odds, as a visit averages its photos (``screening/visit.py``);
* the spread of the syndromic probability over the versions (min, max) is reported; a spread that
  crosses the model's threshold, or is wider than ``UNSTABLE_WIDTH``, marks the result
  **unstable** — the answer depends on the photo's lighting or orientation, not only on the face.

The versions (``DEFAULT_VARIANTS``), each mild enough that a clinician would call it the same photo:

``original``
    the aligned face as detected. Always first: the Grad-CAM map and the embedding are its own.
``mirror``
    flipped left-right. A face's left and right carry the same diagnostic information for a
    screening model (the seed models were trained with random flips), and a selfie camera mirrors.
``brightness-0.85``
    every pixel × 0.85: a dimmer room, or an exposure 0.23 EV lower — half the 30% darkening
    above, which already makes a poor photo.
``blur-1px``
    a Gaussian blur of σ = 1 pixel of the aligned face (about 0.5% of its width at 224 px): slight
    defocus, a phone's noise reduction, or the softening of a JPEG re-compression.

Not included: resolution changes (the aligned face is resampled to the model's input size anyway,
so halving the photo mostly acts as the blur above) and JPEG re-encoding (it needs an encoder whose
output differs between libjpeg builds, so training in PyTorch could not reproduce it bit for bit).

The same variants exist in PyTorch for training (``training/variants.py``, ``torch_variants``),
so the temperature, the threshold and the card's metrics are fitted on the same averaged logits
that screening reports; a test holds the two implementations within one grey level. A card lists the
variants it was validated with (``test_time_variants``); a card without that field (older bundles)
is screened with the default variants, and the result says that its metrics were computed without
them.

Pure numpy + OpenCV: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from dysmorph_desk.bundles.cards import TEST_TIME_VARIANTS, ModelCard

DEFAULT_VARIANTS: tuple[str, ...] = TEST_TIME_VARIANTS
BRIGHTNESS = 0.85  # "brightness-0.85"
BLUR_SIGMA = 1.0  # "blur-1px": Gaussian sigma in aligned-face pixels
UNSTABLE_WIDTH = 0.25  # max - min syndromic probability above this: unstable even if not crossing
UNSTABLE_TEXT = "unstable — the answer changes with the photo's lighting or orientation"


def gaussian_kernel(sigma: float = BLUR_SIGMA) -> np.ndarray:
    """The 1-D blur kernel (radius 3σ, normalised), float32: numpy and torch use the same one."""
    radius = max(1, int(np.ceil(3.0 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def card_variants(card: ModelCard) -> tuple[tuple[str, ...], bool]:
    """The variants to screen a card's model with, and whether its metrics were computed on them.

    A card lists its variants (``test_time_variants``, checked against the known ones when the
    bundle is read); a card without the field predates them: the default variants are used, and
    the caller says the card's metrics were computed on the original face alone.
    """
    if card.test_time_variants is None:
        return DEFAULT_VARIANTS, False
    names = tuple(card.test_time_variants)
    return (names if names else ("original",)), True


def variant_images(face: np.ndarray, names: Sequence[str] = DEFAULT_VARIANTS) -> np.ndarray:
    """The variants of one aligned uint8 RGB face (S, S, 3) as float32 (V, S, S, 3) on 0..255.

    Float, not rounded to uint8: the model sees exactly what the PyTorch side (which works on
    0..1 floats) computes in training.
    """
    img = np.asarray(face, dtype=np.float32)
    out = np.empty((len(names), *img.shape), np.float32)
    for i, name in enumerate(names):
        out[i] = _variant(img, name)
    return out


def _variant(img: np.ndarray, name: str) -> np.ndarray:
    if name == "original":
        return img
    if name == "mirror":
        return img[:, ::-1]
    if name == "brightness-0.85":
        return img * np.float32(BRIGHTNESS)
    if name == "blur-1px":
        k = gaussian_kernel(BLUR_SIGMA)
        return cv2.sepFilter2D(img, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT_101)
    raise ValueError(f"unknown test-time variant {name!r}")


def normalise_batch(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(V, S, S, 3) images on 0..255 as the (V, 3, S, S) float32 batch the forward graph takes."""
    x = np.ascontiguousarray(np.asarray(images, np.float32).transpose(0, 3, 1, 2)) / 255.0
    m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray((x - m) / s, dtype=np.float32)


def syndromic_probabilities(
    logits: np.ndarray, temperature: float, syndromic: Sequence[int]
) -> np.ndarray:
    """Per row of (V, C) logits: the syndromic probability at the card's temperature."""
    with np.errstate(all="ignore"):
        z = np.asarray(logits, np.float64) / max(float(temperature), 1e-6)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        p = z / z.sum(axis=1, keepdims=True)
    return p[:, list(syndromic)].sum(axis=1)


@dataclass(frozen=True)
class Stability:
    """How far the syndromic probability moves over the variants of one photo."""

    variants: tuple[str, ...]
    probabilities: tuple[float, ...]  # syndromic probability per variant, in ``variants`` order
    threshold: float
    metrics_with_variants: bool  # the card's metrics were computed on the averaged logits

    @property
    def min(self) -> float:
        return min(self.probabilities)

    @property
    def max(self) -> float:
        return max(self.probabilities)

    @property
    def width(self) -> float:
        return self.max - self.min

    @property
    def crosses_threshold(self) -> bool:
        return self.min < self.threshold <= self.max

    @property
    def unstable(self) -> bool:
        return len(self.variants) > 1 and (self.crosses_threshold or self.width > UNSTABLE_WIDTH)

    def warning(self, model: str) -> str:
        return (
            f"{model}: {UNSTABLE_TEXT} (syndromic probability {self.min:.2f}–{self.max:.2f} over "
            f"{len(self.variants)} versions of the face: {', '.join(self.variants)})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "min": round(self.min, 6),
            "max": round(self.max, 6),
            "variants": list(self.variants),
            "syndromic_probabilities": [round(p, 6) for p in self.probabilities],
            "crosses_threshold": self.crosses_threshold,
            "unstable_width": UNSTABLE_WIDTH,
            "card_metrics_with_variants": self.metrics_with_variants,
        }


def assess_stability(
    logits: np.ndarray, card: ModelCard, variants: Sequence[str], metrics_with_variants: bool
) -> tuple[np.ndarray, Stability]:
    """The mean of the variants' (V, C) logits (the result) and their spread."""
    z = np.asarray(logits, np.float64)
    p = syndromic_probabilities(z, card.temperature, card.syndromic_indices)
    stability = Stability(
        tuple(variants), tuple(float(v) for v in p), float(card.threshold), metrics_with_variants
    )
    return z.mean(axis=0), stability


NOT_VALIDATED_TEXT = (
    "the card's metrics were computed on the original face alone, not on the mean over "
    "its test-time variants"
)
