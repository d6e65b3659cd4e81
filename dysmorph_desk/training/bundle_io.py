"""Bundles on the PyTorch side: write format 2 from a trained model, upgrade format 1, and the
PyTorch reference runtime (``--runtime torch``) that the ONNX graphs are tested against.

Writing needs torch (the graphs are exported from the model); reading for screening does not
(``bundles/format.py``). The weights are stored once, as the model's ``state_dict`` in float16
(``half``), and the graphs reference them by name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.bundles.container import BundleContents, read_bundle, read_metadata, write_bundle
from dysmorph_desk.bundles.format import BUNDLE_SUFFIX, BundleInfo, LoadedBundle, read_header
from dysmorph_desk.bundles.sessions import ForwardOut, GradientOut
from dysmorph_desk.errors import BundleError, UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from dysmorph_desk.screening.atypicality import Reference


def _state_arrays(model: nn.Module, half: bool) -> dict[str, np.ndarray]:
    import torch

    out: dict[str, np.ndarray] = {}
    for key, value in model.state_dict().items():
        t = value.detach().cpu().contiguous()
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        out[key] = t.numpy().copy()
    return out


def save_bundle(
    path: str | Path,
    model: nn.Module,
    card: ModelCard,
    *,
    half: bool = True,
    force: bool = False,
    atypicality: Reference | None = None,
) -> BundleInfo:
    """Export ``model``'s graphs and write a format-2 bundle atomically.

    The weights are rounded to float16 first (when ``half``) and the graphs exported from the
    rounded model, so the bundle's graphs and its weights describe exactly the same network.

    Args:
        path: where to write; must end in ``.ddbundle``.
        model: a registered architecture (``card.architecture``) with its trained weights.
        card: the model card to embed.
        half: store floating weights as float16 (half the size; parity is tested on the rounded
            weights).
        force: replace an existing file.
        atypicality: the embedding statistics and held-out percentiles to store
            (``screening/atypicality.py``; ``training/variants.py`` computes them).

    Example:
        >>> save_bundle("runs/x.ddbundle", model, card)  # doctest: +SKIP
    """
    import torch

    from dysmorph_desk.training.onnx_export import export_graphs

    path = Path(path)
    if path.suffix != BUNDLE_SUFFIX:
        raise UsageError(f"a bundle file must end in {BUNDLE_SUFFIX}")
    if path.exists() and not force:
        raise UsageError(f"{path.name} exists; use --force to overwrite")
    weights = _state_arrays(model, half)
    reference = _rounded_copy(card.architecture, len(card.classes), weights)
    graphs = export_graphs(reference, card.architecture, len(card.classes))
    runtime = {
        "activation_shape": list(graphs.activation_shape),
        "embedding_size": graphs.embedding_size,
        "weights_dtype": "float16" if half else "float32",
        "inputs": {"forward": ["image"], "gradient": ["image", "onehot"]},
        "outputs": {
            "forward": ["logits", "activations", "embedding"],
            "gradient": ["logits", "activations", "gradients"],
        },
        "exported_with": f"torch {torch.__version__}",
    }
    contents = BundleContents(
        manifest=card.to_dict(),
        runtime=runtime,
        weights=weights,
        graphs={"forward": graphs.forward, "gradient": graphs.gradient},
    )
    if atypicality is not None:
        contents.atypicality = atypicality.tensors()
        contents.runtime["atypicality"] = atypicality.runtime()
    digest = write_bundle(path, contents, force=force)
    return BundleInfo(name=card.name, path=path, card=card, sha256=digest, source="file")


def stored_copy(model: nn.Module, arch: str, num_classes: int, *, half: bool = True) -> nn.Module:
    """The network a bundle of ``model`` holds (float16-rounded weights when ``half``), on the CPU:
    statistics of its outputs (the atypicality reference) must be computed on this one."""
    return _rounded_copy(arch, num_classes, _state_arrays(model, half))


def _rounded_copy(arch: str, num_classes: int, weights: dict[str, np.ndarray]) -> nn.Module:
    """A fresh registry model holding exactly the stored (possibly float16-rounded) weights.

    Built anew rather than copied from the trained model, so no training state (memory format,
    autocast, gradients, hooks, DDP wrappers) reaches the export.
    """
    import torch

    from dysmorph_desk.nets import create_model

    clone = create_model(arch, num_classes).eval()
    state = clone.state_dict()
    clone.load_state_dict(
        {k: torch.from_numpy(np.asarray(v)).to(state[k].dtype) for k, v in weights.items()}
    )
    for p in clone.parameters():  # a just-trained model's weights still ask for gradients
        p.requires_grad_(False)
    return clone.float()


def _v1_digest(manifest: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    """Round 1's SHA-256: canonical manifest JSON, then every tensor (name, dtype, shape, bytes)."""
    import torch

    h = hashlib.sha256()
    h.update(
        json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"\n{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def load_torch_model(path: str | Path, device: str = "cpu") -> tuple[BundleInfo, nn.Module]:
    """The PyTorch model of a format-1 or format-2 bundle, verified (digest and shapes)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load

    from dysmorph_desk.nets import create_model, get_arch

    info = read_header(path)
    path = info.path
    if info.format_version == "1":
        try:
            tensors = load(path.read_bytes())
        except (SafetensorError, OSError, ValueError) as exc:
            raise BundleError(f"{path.name}: weights are unreadable ({exc})") from None
        if _v1_digest(info.card.to_dict(), tensors) != info.sha256:
            raise BundleError(f"{path.name}: SHA-256 mismatch — the bundle was modified or damaged")
    else:
        contents = read_bundle(path)  # verifies the digest
        tensors = {k: torch.from_numpy(np.array(v)) for k, v in contents.weights.items()}
    try:
        spec = get_arch(info.card.architecture)
    except KeyError as exc:
        raise BundleError(f"{path.name}: {exc.args[0]}") from None
    model = create_model(spec.name, len(info.card.classes))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise BundleError(
            f"{path.name}: weights do not match architecture {spec.name} "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )
    for k, v in expected.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise BundleError(f"{path.name}: tensor {k} has the wrong shape for {spec.name}")
    model.load_state_dict({k: t.to(expected[k].dtype) for k, t in tensors.items()})
    model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return info, model


def upgrade_bundle(src: str | Path, dest: str | Path, *, force: bool = False) -> BundleInfo:
    """Rewrite a format-1 bundle as format 2 (same card, same weights, graphs exported)."""
    src = Path(src)
    meta = read_metadata(src)
    if meta.get("format_version") != "1":
        raise UsageError(f"{src.name} is already format {meta.get('format_version')}")
    info, model = load_torch_model(src)
    return save_bundle(dest, model, info.card, half=True, force=force)


class TorchModel:
    """The PyTorch reference runtime: the same outputs as the ONNX graphs, from eager PyTorch."""

    def __init__(self, model: nn.Module, arch: str, device: str = "cpu") -> None:
        self.model, self.arch, self.device = model, arch, device

    def forward(self, images: np.ndarray) -> ForwardOut:
        from dysmorph_desk.training.onnx_export import run_reference

        out = run_reference(self.model, self.arch, np.asarray(images, np.float32), None)
        return ForwardOut(out["logits"], out["activations"], out["embedding"])

    def gradient(self, image: np.ndarray, target_index: int, num_classes: int) -> GradientOut:
        from dysmorph_desk.training.onnx_export import run_reference

        onehot = np.zeros((1, num_classes), np.float32)
        onehot[0, target_index] = 1.0
        out = run_reference(self.model, self.arch, np.asarray(image, np.float32), onehot)
        return GradientOut(out["logits"], out["activations"], out["gradients"])


def load_torch_bundle(path: str | Path, device: str = "cpu", source: str = "file") -> LoadedBundle:
    """A bundle screened by the PyTorch reference (``--runtime torch``; format 1 or 2)."""
    info, model = load_torch_model(path, device)
    info.source = source
    runtime: dict[str, Any] = {}
    stats: dict[str, np.ndarray] = {}
    if info.format_version != "1":  # the atypicality statistics, as the ONNX path has them
        from dysmorph_desk.bundles.format import check_atypicality

        contents = read_bundle(info.path)
        check_atypicality(contents, info.path.name)
        runtime, stats = contents.runtime, contents.atypicality
    model_ = TorchModel(model, info.card.architecture, device)
    return LoadedBundle(info, model_, device, runtime, {}, stats)
