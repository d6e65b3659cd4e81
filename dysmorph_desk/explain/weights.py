"""The per-method step of each class-activation map, in numpy, on one image's arrays.

Screening is moving to ONNX Runtime, which hands us the target layer's activations and the class
score's gradients as arrays: there is no torch module to hook, so pytorch-grad-cam cannot run. Each
function here is the numpy twin of one pytorch-grad-cam override (``get_cam_weights`` or
``get_cam_image``), written with the same formulas, epsilons and dtypes so that the maps match the
library's to float precision (``tests/explain/test_numpy_cam.py`` compares them).

Arrays are one image's, without the batch axis: ``(K, *spatial)``, channel axis first. Nothing here
resizes, clips or normalises; ``numpy_cam`` does that, once, for every method.

Two kinds of function, as in pytorch-grad-cam:

- channel weights, ``(K,)``, that ``numpy_cam`` multiplies into the activations and sums over
  channels: Grad-CAM, Grad-CAM++, XGrad-CAM and Score-CAM (whose scores come from forward passes,
  so it takes those instead of gradients). Their names are in ``CHANNEL_WEIGHTS``.
- maps, ``spatial``, for the methods that weigh each position separately and so do not factor into
  "weights × activations": HiResCAM, LayerCAM and EigenCAM.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _spatial_axes(acts: np.ndarray) -> tuple[int, ...]:
    """Every axis after the channel axis: maps may be (h, w) or a sequence's (T,)."""
    return tuple(range(1, acts.ndim))


def _with_spatial(values: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """(K,) -> (K, 1, ...) so that it broadcasts over ``acts``' spatial axes."""
    return values.reshape(values.shape + (1,) * (acts.ndim - 1))


def gradcam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Grad-CAM channel weights: the spatial mean of the score's gradient (Selvaraju et al. 2017).

    The mean gradient says how much the class score rises, on average, when the channel rises;
    ``acts`` is unused but taken so that every gradient method has the same signature.

    Args:
        acts: activations ``(K, *spatial)``.
        grads: gradients of the class score w.r.t. ``acts``, same shape.

    Returns:
        ``(K,)`` weights.

    Example:
        >>> g = np.ones((2, 3, 3), np.float32) * np.array([1, -2], np.float32)[:, None, None]
        >>> gradcam(np.zeros_like(g), g).tolist()
        [1.0, -2.0]
    """
    return np.mean(grads, axis=_spatial_axes(grads))


def gradcam_plus_plus(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Grad-CAM++ channel weights (Chattopadhyay et al. 2018, eq. 19), as pytorch-grad-cam computes
    them.

    Plain Grad-CAM averages gradients, so a face feature that appears twice weighs less than once;
    the per-position coefficients ``aij`` undo that, using the exponential-score closed form with
    only the second and third powers of the first-order gradient. Positions where the gradient is
    zero get ``aij = 0`` (the paper's ReLU), and only positive gradients count.

    Args:
        acts: activations ``(K, *spatial)``.
        grads: gradients of the class score w.r.t. ``acts``, same shape.

    Returns:
        ``(K,)`` weights.

    Example:
        >>> a = np.ones((1, 2, 2), np.float32)
        >>> gradcam_plus_plus(a, np.full_like(a, 0.5)).round(4).tolist()
        [0.5]
    """
    axes = _spatial_axes(acts)
    grads_power_2 = grads**2
    grads_power_3 = grads_power_2 * grads
    sum_activations = _with_spatial(np.sum(acts, axis=axes), acts)
    eps = 0.000001
    aij = grads_power_2 / (2 * grads_power_2 + sum_activations * grads_power_3 + eps)
    aij = np.where(grads != 0, aij, 0)
    weights = np.maximum(grads, 0) * aij
    return np.sum(weights, axis=axes)


def xgradcam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """XGrad-CAM channel weights (Fu et al. 2020): gradients weighted by the normalised activations.

    Weighing each position's gradient by the share of the channel's activation found there makes
    the map satisfy the paper's sensitivity and conservation axioms.

    Args:
        acts: activations ``(K, *spatial)``.
        grads: gradients of the class score w.r.t. ``acts``, same shape.

    Returns:
        ``(K,)`` weights.

    Example:
        >>> a = np.array([[[1.0, 3.0]]], np.float32)  # one channel, a 1 x 2 map
        >>> xgradcam(a, np.array([[[2.0, 1.0]]], np.float32)).round(4).tolist()
        [1.25]
    """
    axes = _spatial_axes(acts)
    sum_activations = _with_spatial(np.sum(acts, axis=axes), acts)
    eps = 1e-7
    weights = grads * acts / (sum_activations + eps)
    return weights.sum(axis=axes)


def hirescam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """HiResCAM map (Draelos & Carin 2020): element-wise gradient × activation, summed over channels.

    Not averaging the gradient first keeps the map faithful to the positions the score used (for a
    model ending in global pooling and a linear layer it is exactly the score's decomposition).

    Args:
        acts: activations ``(K, *spatial)``.
        grads: gradients of the class score w.r.t. ``acts``, same shape.

    Returns:
        The map, ``spatial`` (before ReLU and normalisation).

    Example:
        >>> a = np.array([[[1.0, 2.0]], [[3.0, 0.0]]], np.float32)
        >>> hirescam(a, np.array([[[1.0, 1.0]], [[-1.0, 5.0]]], np.float32)).tolist()
        [[-2.0, 2.0]]
    """
    return (grads * acts).sum(axis=0)


def layercam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """LayerCAM map (Jiang et al. 2021): activations weighted by their positive gradient, per
    position.

    Only positions whose rise would raise the score count; unlike Grad-CAM's one weight per channel,
    this keeps fine detail in shallower layers.

    Args:
        acts: activations ``(K, *spatial)``.
        grads: gradients of the class score w.r.t. ``acts``, same shape.

    Returns:
        The map, ``spatial`` (before ReLU and normalisation).

    Example:
        >>> a = np.array([[[1.0, 2.0]], [[3.0, 1.0]]], np.float32)
        >>> layercam(a, np.array([[[1.0, 1.0]], [[-1.0, 5.0]]], np.float32)).tolist()
        [[1.0, 7.0]]
    """
    return (np.maximum(grads, 0) * acts).sum(axis=0)


def eigencam(acts: np.ndarray) -> np.ndarray:
    """EigenCAM map (Muhammad & Yeasin 2020): the activations projected on their first principal
    component, exactly as pytorch-grad-cam's ``get_2d_projection``.

    It needs no gradient and no class (the same map for every class), which is why it also works
    where a graph exports no gradients. As in ``get_2d_projection``: NaNs become 0, each channel is
    centred over the positions (without centring the map tends to come out negative), and the sign
    is the one LAPACK's SVD returns. No sign correction is applied (pytorch-grad-cam's
    ``get_2d_projection_with_sign_correction`` exists but its ``EigenCAM`` does not use it), so the
    map can come out as the negative of the salient regions, and after the ReLU show the rest of
    the face; keeping the library's convention keeps our maps equal to the ones users saw so far.
    ``full_matrices=False`` gives the same first right-singular vector as the library's
    ``full_matrices=True`` (checked bit for bit) without building a (positions × positions) ``U``.

    Args:
        acts: activations ``(K, *spatial)``; float32 as the graphs give them (the SVD runs in the
            input's precision, as the library's does).

    Returns:
        The projection, ``spatial``, float32 (before ReLU and normalisation).

    Example:
        >>> pattern = np.array([0.0, 1.0, 0.0, 3.0], np.float32)
        >>> acts = np.stack([pattern, 2 * pattern]).reshape(2, 2, 2)
        >>> abs(np.corrcoef(eigencam(acts).ravel(), pattern)[0, 1]).round(4)
        np.float64(1.0)
    """
    acts = acts.copy()
    acts[np.isnan(acts)] = 0
    reshaped = acts.reshape(acts.shape[0], -1).transpose()
    reshaped = reshaped - reshaped.mean(axis=0)
    _, _, vt = np.linalg.svd(reshaped, full_matrices=False)
    projection = reshaped @ vt[0, :]
    return projection.reshape(acts.shape[1:]).astype(np.float32)


def scorecam(scores: np.ndarray) -> np.ndarray:
    """Score-CAM channel weights (Wang et al. 2020): the softmax, across channels, of the target's
    score for the input masked by each channel.

    The scores come from forward passes (``numpy_cam.score_cam`` runs them), not from gradients,
    which is why this one takes scores. The softmax across channels is pytorch-grad-cam's choice
    (the paper uses the raw increase in confidence); we follow the library so maps stay comparable.

    Args:
        scores: ``(K,)`` target scores (logits), one per masked input.

    Returns:
        ``(K,)`` float32 weights that sum to 1.

    Example:
        >>> scorecam(np.array([0.0, np.log(3.0)])).round(4).tolist()
        [0.25, 0.75]
    """
    scores = np.asarray(scores, dtype=np.float64)
    shifted = np.exp(scores - np.max(scores))  # shifted by the max: no overflow for large logits
    return (shifted / shifted.sum()).astype(np.float32)


# Every method, by the name users pick (``methods.CAM_METHODS``): the function that does its own
# step. Signatures differ by kind, see the module docstring and ``CHANNEL_WEIGHTS``.
CAM_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "gradcam": gradcam,
    "gradcam++": gradcam_plus_plus,
    "hirescam": hirescam,
    "xgradcam": xgradcam,
    "layercam": layercam,
    "eigencam": eigencam,
    "scorecam": scorecam,
}
# The methods whose function returns (K,) channel weights rather than a map.
CHANNEL_WEIGHTS = frozenset({"gradcam", "gradcam++", "xgradcam", "scorecam"})
# The methods that need no gradients.
GRADIENT_FREE = frozenset({"eigencam", "scorecam"})
