"""The test-time variants in PyTorch, and what training learns from them.

Screening (``screening/stability.py``, numpy) reports the mean of a model's logits over a few benign
versions of the aligned face. Training must fit the temperature and the threshold, and compute the
card's metrics, on the same averaged logits, so the versions are implemented here once more, on
(B, 3, S, S) batches in 0..1 — a test holds the two implementations within one grey level.

Also here, because they need a trained model's embeddings:

* ``write_heldout``: after a fold's model is trained, the photos it was not trained on (validation
  and test) are scored once more — per-variant logits and embedding distances to the statistics of
  its training photos — and saved next to its checkpoint (``RUN/checkpoints/fold-K.heldout.npz``);
* ``stability_summary``: the test-retest spread over the test photos (median and 90th percentile
  of max − min syndromic probability over the variants), for metrics.json and the card;
* ``training_reference``: the bundle's atypicality statistics: mean and shrunk covariance of the
  exported model's embeddings of its training photos, and the percentiles of the held-out photos'
  distances (out-of-fold, from the files above).
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.screening.stability import (
    BLUR_SIGMA,
    BRIGHTNESS,
    DEFAULT_VARIANTS,
    gaussian_kernel,
    syndromic_probabilities,
)
from dysmorph_desk.training.runtime import Runtime
from dysmorph_desk.utils.atomic import write_bytes_atomic

log = logging.getLogger(__name__)


def torch_variants(x, names: Sequence[str] = DEFAULT_VARIANTS):
    """(V, B, 3, S, S) versions of a (B, 3, S, S) batch on 0..1, as ``variant_images`` makes them."""
    import torch
    import torch.nn.functional as F

    out = []
    for name in names:
        if name == "original":
            out.append(x)
        elif name == "mirror":
            out.append(torch.flip(x, dims=[3]))
        elif name == "brightness-0.85":
            out.append(x * BRIGHTNESS)
        elif name == "blur-1px":
            k = torch.from_numpy(gaussian_kernel(BLUR_SIGMA)).to(x.device, x.dtype)
            r, c = len(k) // 2, x.shape[1]
            y = F.pad(x, (r, r, r, r), mode="reflect")  # = OpenCV's BORDER_REFLECT_101
            y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
            out.append(F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c))
        else:
            raise ValueError(f"unknown test-time variant {name!r}")
    return torch.stack(out)


def predict_outputs(
    model,
    faces: np.ndarray,
    mean,
    std,
    rt: Runtime,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    *,
    head=None,
    batch: int = 32,
) -> dict[str, np.ndarray]:
    """Per-variant logits ``(V, N, C)`` and, given the model's ``head`` (the architecture's
    ``head_layer``), the original faces' L2-normalised embeddings ``(N, D)``: the classifier's
    input, as the forward graph outputs it."""
    import torch
    import torch.nn.functional as F

    from dysmorph_desk.training.loop import normalise, to_batch

    model.eval()
    captured: list[Any] = []
    embeddings = head is not None
    handle = None
    if head is not None:
        handle = head.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0]))
    logits, embs = [], []
    v = len(variants)
    step = max(1, batch // v)  # ``batch`` images per forward, variants included
    try:
        with torch.inference_mode(), rt.autocast():
            for i in range(0, len(faces), step):
                x = torch_variants(to_batch(faces[i : i + step], rt.device), variants)
                b = x.shape[1]
                x = normalise(x.flatten(0, 1), mean, std)  # one forward for every variant
                captured.clear()
                z = model(x.contiguous(memory_format=torch.channels_last)).float()
                logits.append(z.view(v, b, -1).cpu().numpy())
                if embeddings:
                    e = F.normalize(captured[0].float().flatten(1)[:b], dim=1)
                    embs.append(e.cpu().numpy())
    finally:
        if handle is not None:
            handle.remove()
    out = {"logits": np.concatenate(logits, axis=1) if logits else np.zeros((v, 0, 2), np.float32)}
    if embeddings:
        out["embedding"] = np.concatenate(embs) if embs else np.zeros((0, 0), np.float32)
    return out


def fp32(rt: Runtime) -> Runtime:
    """The same device without mixed precision: embedding statistics are computed in float32, as
    the ONNX graphs run (bfloat16 rounding would move a tightly clustered embedding by more than
    its spread)."""
    return dataclasses.replace(rt, amp_dtype=None)


# --- held-out photos of a fold's model --------------------------------------------------------


def heldout_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.stem + ".heldout.npz")


def write_heldout(
    model, arch: str, faces: np.ndarray, train_idx: np.ndarray, rt: Runtime, checkpoint: Path
) -> None:
    """Per-variant logits and embedding distances of the photos ``model`` was not trained on."""
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.screening.atypicality import fit_statistics, mahalanobis

    held = np.setdiff1d(np.arange(len(faces)), train_idx)
    if len(held) == 0 or len(train_idx) < 2:
        return
    rt = fp32(rt)
    spec = get_arch(arch)
    head = spec.head_layer(model) if spec.head_layer is not None else None
    if head is None:
        return
    fit = predict_outputs(
        model, faces[train_idx], spec.mean, spec.std, rt, ("original",), head=head
    )
    mean, precision, _ = fit_statistics(fit["embedding"])
    out = predict_outputs(model, faces[held], spec.mean, spec.std, rt, DEFAULT_VARIANTS, head=head)
    buf = io.BytesIO()
    np.savez(
        buf,
        held_idx=held,
        variant_logits=out["logits"],
        distances=mahalanobis(out["embedding"], mean, precision),
        variants=np.array(DEFAULT_VARIANTS),
    )
    write_bytes_atomic(heldout_path(checkpoint), buf.getvalue())


def read_heldout(checkpoint: Path) -> dict[str, np.ndarray] | None:
    path = heldout_path(checkpoint)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in ("held_idx", "variant_logits", "distances", "variants")}
    except (OSError, ValueError, KeyError):
        return None
    if tuple(str(v) for v in data["variants"]) != DEFAULT_VARIANTS:
        return None  # written with other variants: not comparable
    return data


# --- summaries --------------------------------------------------------------------------------


def spread_summary(spread: np.ndarray, crossing: np.ndarray | None = None) -> dict[str, Any]:
    """Median and 90th percentile of per-photo max − min syndromic probability."""
    s = np.asarray(spread, np.float64)
    s = s[np.isfinite(s)]
    if not len(s):
        return {}
    out: dict[str, Any] = {
        "variants": list(DEFAULT_VARIANTS),
        "n_photos": len(s),
        "spread_median": round(float(np.median(s)), 4),
        "spread_p90": round(float(np.percentile(s, 90)), 4),
        "spread": "max - min syndromic probability over the test-time variants, per test photo",
    }
    if crossing is not None:
        out["share_crossing_threshold"] = round(float(np.mean(crossing)), 4)
    return out


def photo_spreads(
    variant_logits: np.ndarray, temperature: float, positive_idx: Sequence[int], threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per photo of (V, N, C) logits: the spread of the syndromic probability, and whether the
    variants fall on both sides of the threshold."""
    v, n, c = variant_logits.shape
    p = syndromic_probabilities(variant_logits.reshape(v * n, c), temperature, positive_idx)
    p = p.reshape(v, n)
    lo, hi = p.min(axis=0), p.max(axis=0)
    return hi - lo, (lo < threshold) & (threshold <= hi)


def stability_summary(results, checkpoints: Path, positive_idx: Sequence[int]) -> dict[str, Any]:
    """The spread over the folds' test photos, each at its fold's temperature and threshold."""
    spreads, crossings = [], []
    for r in results:
        data = read_heldout(checkpoints / f"fold-{r.index}.pt")
        if data is None:
            return {}
        test = np.isin(data["held_idx"], r.test_idx)
        s, x = photo_spreads(
            data["variant_logits"][:, test], r.temperature, positive_idx, r.threshold
        )
        spreads.append(s)
        crossings.append(x)
    if not spreads:
        return {}
    return spread_summary(np.concatenate(spreads), np.concatenate(crossings))


def training_reference(
    model,
    arch: str,
    faces: np.ndarray,
    groups: Sequence[str],
    results,
    checkpoints: Path,
    rt: Runtime,
    holdout: bool,
):
    """The exported model's atypicality statistics (``screening.atypicality.Reference``).

    Mean and covariance: the exported model's embeddings of its training photos (every photo;
    under holdout, the split's training part). Reference: the held-out photos' distances of every
    fold (each under its own fold's model and training statistics); when those files are missing
    (a run from before they existed), the exported model's embeddings cross-fitted by patient.
    """
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.screening.atypicality import cross_fitted_distances, reference_from

    spec = get_arch(arch)
    rt = fp32(rt)
    held = [read_heldout(checkpoints / f"fold-{r.index}.pt") for r in results]
    fit_idx = np.arange(len(faces))
    if holdout and held and held[0] is not None:
        fit_idx = np.setdiff1d(fit_idx, held[0]["held_idx"])
    if spec.head_layer is None:
        return None
    head = spec.head_layer(model)
    emb = predict_outputs(model, faces[fit_idx], spec.mean, spec.std, rt, ("original",), head=head)[
        "embedding"
    ]
    if held and all(h is not None for h in held):
        distances = np.concatenate([h["distances"] for h in held if h is not None])
        source = "out-of-fold: each held-out photo against its fold model's training photos"
    else:
        distances = cross_fitted_distances(emb, [groups[int(i)] for i in fit_idx])
        source = "cross-fitted: each photo against statistics fitted without its patient's photos"
    return reference_from(emb, distances, source="training", reference=source)
