"""Class-activation heatmaps from arrays, in numpy: for screening through ONNX Runtime.

ONNX Runtime gives, per photo, the target layer's activations, the gradients of the chosen class
score with respect to them (from a gradient graph), and a ``forward`` for the logits; there is no
torch module for pytorch-grad-cam to hook. This module turns those arrays into the same heatmaps
pytorch-grad-cam draws (the tests compare them, method by method), without importing torch, so
the screening path can drop it.

The steps are pytorch-grad-cam's, so users see the maps they saw before: the method's weighted sum
(``weights.py``), ReLU, min-max normalisation (``scale_cam_image``: subtract the min, divide by
``1e-7 + max``), a cv2 bilinear resize to the face, then ReLU and normalisation again (its
``aggregate_multi_layers``, with our one target layer).

Activations are one image's, channel axis first: ``(K, h, w)`` for CNNs, ``(K, T)`` for sequence
models (a graph that gives ``(T, K)`` is transposed by its caller: only the caller knows which
axis holds the channels). A sequence has no 2-D layout of its own, so:

- ``T`` a perfect square is read as a square grid, row by row (49 steps -> 7 × 7): that is how
  the hybrid models turn their 7 × 7 feature map into 49 steps, so the map lands where the
  features came from.
- any other ``T`` is drawn as a horizontal band, ``(1, T)`` stretched to the face: time order
  stays visible left to right, and no 2-D structure is made up that the model never had.

All-zero and non-finite maps come back ``empty`` (the UI says "no signal" instead of drawing
noise), with a ``heat`` of zeros that is always finite. A non-finite value anywhere in the arrays
a method uses makes the map empty: it means the graph's pass failed numerically (an fp16 overflow,
say), and a map from the remaining values would look plausible while meaning nothing. (Here we
differ from pytorch-grad-cam's EigenCAM, which silently reads NaNs as 0.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from dysmorph_desk.errors import Interrupted
from dysmorph_desk.explain.weights import (
    CAM_FUNCTIONS,
    CHANNEL_WEIGHTS,
    GRADIENT_FREE,
    scorecam,
)

Forward = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CamMap:
    """A heatmap ready to draw, or the statement that there is none.

    ``heat`` is float32 in [0, 1], the size of the face the model saw; ``empty`` is True when the
    map carried no signal (all zero, or computed from non-finite values), in which case ``heat`` is
    all zeros and the UI should say so rather than draw it.
    """

    heat: np.ndarray
    empty: bool


def cam_from_gradients(
    method: str, acts: np.ndarray, grads: np.ndarray | None, size: int
) -> CamMap:
    """The heatmap of a gradient method (or EigenCAM) from a graph's activations and gradients.

    Score-CAM needs forward passes, not gradients: use ``score_cam`` for it.

    Args:
        method: a name from ``methods.CAM_METHODS`` other than ``"scorecam"``.
        acts: the target layer's activations for one image, ``(K, h, w)`` or ``(K, T)``, channel
            axis first (see the module docstring for how ``T`` is laid out).
        grads: gradients of the chosen class score w.r.t. ``acts``, same shape; may be ``None``
            for ``"eigencam"``, which does not use them.
        size: side of the square output, in pixels (the model's input size).

    Returns:
        A ``CamMap`` with ``heat`` of shape ``(size, size)``.

    Raises:
        ValueError: an unknown method, ``"scorecam"``, missing gradients, or shapes that do not
            fit.

    Example:
        >>> acts = np.random.default_rng(0).random((8, 7, 7), dtype=np.float32)
        >>> cam = cam_from_gradients("gradcam", acts, np.ones_like(acts), 224)
        >>> cam.heat.shape, cam.heat.dtype, cam.empty
        ((224, 224), dtype('float32'), False)
    """
    if method not in CAM_FUNCTIONS:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(CAM_FUNCTIONS)}")
    if method == "scorecam":
        raise ValueError("Score-CAM needs forward passes, not gradients: use score_cam()")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    acts = np.asarray(acts, dtype=np.float32)
    given_shape = acts.shape
    acts = _as_grid(acts, "activations")
    grid_grads = None
    if method not in GRADIENT_FREE:
        if grads is None:
            raise ValueError(f"{method} needs the gradients of the class score")
        grads = np.asarray(grads, dtype=np.float32)
        if grads.shape != given_shape:
            raise ValueError(f"gradients {grads.shape} do not match the activations {given_shape}")
        grid_grads = grads.reshape(acts.shape)
    if not np.isfinite(acts).all() or (
        grid_grads is not None and not np.isfinite(grid_grads).all()
    ):
        return _empty((size, size))
    # Finite inputs can still overflow (Grad-CAM++ cubes the gradients): the result then is
    # non-finite and reported empty by _finish, without a RuntimeWarning on the way.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        function = CAM_FUNCTIONS[method]
        if grid_grads is None:  # EigenCAM
            cam = function(acts)
        elif method in CHANNEL_WEIGHTS:
            cam = _weighted_sum(function(acts, grid_grads), acts)
        else:
            cam = function(acts, grid_grads)
        return _finish(cam, (size, size))


def score_cam(
    forward: Forward,
    image: np.ndarray,
    acts: np.ndarray,
    target_index: int,
    *,
    batch_size: int = 32,
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> CamMap:
    """Score-CAM (Wang et al. 2020): weigh each activation channel by the class score of the image
    masked with it.

    As pytorch-grad-cam's ``ScoreCAM``: each channel is upsampled to the image, bilinearly with
    aligned corners (its ``UpsamplingBilinear2d``), min-max normalised to a [0, 1] mask (``+1e-8``),
    multiplied into the image; the target's raw logits for the K masked images go through a softmax
    across channels, and the weights sum the (not upsampled) activations. One forward pass per
    channel makes it slow (about a minute a photo on a CPU for 1280 channels), hence the progress
    and cancel callbacks. Masks are built one batch at a time, so memory stays at one batch of
    images instead of K.

    Args:
        forward: ``images (N, 3, H, W) float32 -> logits (N, C)``, e.g. an ONNX Runtime session.
        image: the model's input for the photo, ``(1, 3, H, W)`` float32, already normalised.
        acts: the target layer's activations for that input, ``(K, h, w)`` or ``(K, T)`` (laid out
            as in ``cam_from_gradients``).
        target_index: the class whose score is explained.
        batch_size: masked images per forward call.
        progress: called as ``progress(done, total)`` channels after each batch.
        should_cancel: checked before each batch; when it returns True, Score-CAM stops.

    Returns:
        A ``CamMap`` with ``heat`` of shape ``(H, W)``. Non-finite activations give an empty map
        without running any forward pass.

    Raises:
        Interrupted: ``should_cancel()`` returned True.
        ValueError: shapes that do not fit, or a ``target_index`` outside the logits.

    Example:
        >>> def forward(x):  # class 0 likes the top-left quarter, class 1 the rest
        ...     top_left = x[:, :, :4, :4].mean(axis=(1, 2, 3))
        ...     return np.stack([top_left, x.mean(axis=(1, 2, 3)) - top_left], axis=1)
        >>> acts = np.zeros((2, 2, 2), np.float32)
        >>> acts[0, 0, 0] = acts[1, 1, 1] = 1.0
        >>> cam = score_cam(forward, np.ones((1, 3, 8, 8), np.float32), acts, 0)
        >>> bool(cam.heat[:4, :4].mean() > cam.heat[4:, 4:].mean())
        True
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"Score-CAM needs one image (1, 3, H, W), got {image.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    acts = _as_grid(np.asarray(acts, dtype=np.float32), "activations")
    height, width = image.shape[-2:]
    if not np.isfinite(acts).all():
        return _empty((height, width))
    rows = _align_corners_weights(acts.shape[1], height)
    cols = _align_corners_weights(acts.shape[2], width)
    total = acts.shape[0]
    scores: list[np.ndarray] = []
    for start in range(0, total, batch_size):
        if should_cancel is not None and should_cancel():
            raise Interrupted("Score-CAM cancelled")
        masks = rows @ acts[start : start + batch_size] @ cols.T  # (b, H, W)
        flat = masks.reshape(masks.shape[0], -1)
        mins = flat.min(axis=1)[:, None, None]
        maxs = flat.max(axis=1)[:, None, None]
        masks = (masks - mins) / (maxs - mins + 1e-8)
        logits = np.asarray(forward(image * masks[:, None]))
        if logits.ndim != 2 or logits.shape[0] != masks.shape[0]:
            raise ValueError(
                f"forward must return logits (N, C) for N = {masks.shape[0]}, got {logits.shape}"
            )
        if not 0 <= target_index < logits.shape[1]:
            raise ValueError(f"target_index {target_index} outside {logits.shape[1]} classes")
        scores.append(logits[:, target_index])
        if progress is not None:
            progress(min(start + batch_size, total), total)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        weights = scorecam(np.concatenate(scores))
        return _finish(_weighted_sum(weights, acts), (height, width))


def _as_grid(arr: np.ndarray, what: str) -> np.ndarray:
    """``(K, h, w)`` as is; ``(K, T)`` as a square grid when ``T`` is a square, else ``(K, 1, T)``.

    Done first, on the inputs, so every method (and Score-CAM's upsampling) works on a 2-D map;
    the methods' sums, means and SVD do not depend on the layout, so the values are the same.
    """
    if arr.ndim == 3:
        return arr
    if arr.ndim == 2:
        channels, steps = arr.shape
        side = math.isqrt(steps)
        return arr.reshape(channels, side, side) if side * side == steps else arr[:, None, :]
    raise ValueError(
        f"{what} must be one image's (K, h, w) or (K, T), channel axis first, got {arr.shape}"
    )


def _weighted_sum(weights: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """Sum of the channels weighted by ``weights``: pytorch-grad-cam's ``get_cam_image``."""
    return (weights[:, None, None] * acts).sum(axis=0)


def _scale(cam: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's ``scale_cam_image`` normalisation: shift to 0, divide by 1e-7 + max."""
    cam = cam - np.min(cam)
    return np.asarray(cam / (1e-7 + np.max(cam)), dtype=np.float32)


def _finish(cam: np.ndarray, size_hw: tuple[int, int]) -> CamMap:
    """ReLU, normalise, resize (cv2 bilinear, to (W, H)), ReLU, normalise; then the empty check.

    The same rule as ``cam.py``: a map that is not finite, or whose maximum is ~0, is empty.
    """
    height, width = size_hw
    cam = np.maximum(cam, 0)
    cam = cv2.resize(_scale(cam), (width, height), interpolation=cv2.INTER_LINEAR)
    heat = _scale(np.maximum(cam, 0))
    finite = np.isfinite(heat)
    if not finite.all() or float(heat.max()) <= 1e-6:
        return _empty(size_hw)
    return CamMap(heat=np.clip(heat, 0.0, 1.0).astype(np.float32), empty=False)


def _empty(size_hw: tuple[int, int]) -> CamMap:
    return CamMap(heat=np.zeros(size_hw, dtype=np.float32), empty=True)


def _align_corners_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` matrix of 1-D linear interpolation with aligned corners.

    ``rows @ a @ cols.T`` is torch's ``UpsamplingBilinear2d`` (``align_corners=True``), which
    pytorch-grad-cam's ScoreCAM upsamples with. cv2's bilinear uses half-pixel centres instead and
    would give visibly different masks at low resolution (a 7 × 7 map), so it cannot stand in.
    """
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    src = np.arange(n_out, dtype=np.float64) * scale
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    matrix = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(matrix, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(matrix, (np.arange(n_out), hi), frac)
    return matrix.astype(np.float32)
