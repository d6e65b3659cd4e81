"""Initial weights from a local file (``train --init``): ImageNet, VGG-Face or face-recognition checkpoints.

Nothing is downloaded and nothing is unpickled beyond tensors: ``.safetensors`` files are read with
safetensors, ``.pth/.pt/.bin/.ckpt`` only with ``torch.load(weights_only=True)``; a pickle that needs
any other Python object is refused. Tensors are matched to the model by name (after unwrapping
``{"state_dict": ...}``-style containers and stripping ``module.``/``model.``/``backbone.``
prefixes) and shape; a tensor whose shape differs (a 1000-class ImageNet head) is skipped, never
loaded. When no name matches at all (a VGG-Face port names its layers ``conv1_1`` ... ``fc8``), the
conv weights and biases are paired in order while their shapes line up. The report says what was
loaded and how, since a silently random backbone would only show up as a poor model much later.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from dysmorph_desk.errors import BundleError

PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
CONTAINER_KEYS = ("state_dict", "model_state_dict", "model_state", "model")
PREFIXES = ("module.", "model.", "backbone.")
BY_NAME = "by name"
BY_ORDER = "by order"


@dataclass
class InitReport:
    """What ``load_init_weights`` did; counts are tensors (parameters and buffers)."""

    path: Path
    mode: str  # BY_NAME, or BY_ORDER when no name matched and conv tensors were paired in order
    matched: int
    missing: int  # model tensors left at their random/default initialisation
    unexpected: int  # file tensors with no place in the model
    shape_mismatched: int  # same name, different shape: skipped
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    shape_mismatched_keys: list[str] = field(default_factory=list)
    matched_keys: list[str] = field(default_factory=list)  # model names that received weights

    def summary(self) -> str:
        """One line for the training log."""
        missing = f"{self.missing} missing"
        if self.missing_keys:
            missing += f" ({', '.join(_top_level(self.missing_keys))})"
        order = f" {BY_ORDER}, names differ" if self.mode == BY_ORDER else ""
        return (
            f"init from {self.path.name}: {self.matched} tensors matched{order}, {missing}, "
            f"{self.unexpected} unexpected, {self.shape_mismatched} shape-mismatched (skipped)"
        )


def load_init_weights(model: nn.Module, path: Path) -> InitReport:
    """Copy matching tensors from a local weights file into ``model``; raise ``BundleError`` if unusable."""
    path = Path(path)
    tensors = _flatten_container(read_weights(path), path)
    expected = model.state_dict()
    loaded, report = _match_by_name(expected, tensors, path)
    if not loaded:
        loaded, report = _match_by_order(model, expected, tensors, path)
    if not loaded:
        raise BundleError(
            f"{path.name}: none of its {len(tensors)} tensors fits this architecture "
            f"(no name or shape matches); nothing loaded"
        )
    with torch.no_grad():
        for name, value in loaded.items():
            expected[name].copy_(value)  # state_dict() tensors share storage with the model
    return report


def read_weights(path: Path) -> Mapping[str, object]:
    """The raw object in a weights file, read without executing any pickled code."""
    suffix = path.suffix.lower()
    if suffix not in PICKLE_SUFFIXES and suffix != SAFETENSORS_SUFFIX:
        raise BundleError(
            f"{path.name}: unsupported weights file type (use {SAFETENSORS_SUFFIX} or {', '.join(PICKLE_SUFFIXES)})"
        )
    if not path.exists():
        raise BundleError(f"weights file not found: {path}")
    if not path.is_file():
        raise BundleError(f"{path}: not a file")
    if suffix == SAFETENSORS_SUFFIX:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            raw = load_file(path, device="cpu")
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise BundleError(
                f"{path.name}: unreadable safetensors file ({_first_line(exc)})"
            ) from None
        # safetensors stores tensors sorted by name: restore numeric order (features.2 before features.10)
        return {k: raw[k] for k in sorted(raw, key=_natural_key)}
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's wording differs by version: "Unsupported global: GLOBAL x.y" or "unsupported
        # GLOBAL x.y whose module x is blocked"
        found = re.search(r"(?i)unsupported (?:global: )?GLOBAL ([\w.]+)", str(exc))
        if found is None:  # not a pickle the restricted loader can parse at all
            raise BundleError(
                f"{path.name}: unreadable PyTorch weights file (not a checkpoint or damaged)"
            ) from None
        raise BundleError(
            f"{path.name}: refused: it holds a Python object ({found.group(1)}) besides tensors, and loading "
            f"it could run code; save a plain state_dict or .safetensors instead"
        ) from None
    except (
        OSError,
        EOFError,
        RuntimeError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
    ) as exc:
        raise BundleError(
            f"{path.name}: unreadable PyTorch weights file ({_first_line(exc)})"
        ) from None
    if not isinstance(raw, Mapping):
        raise BundleError(
            f"{path.name}: holds a {type(raw).__name__}, not a state_dict of named tensors"
        )
    return raw


def _flatten_container(raw: Mapping[str, object], path: Path) -> dict[str, torch.Tensor]:
    """Unwrap ``{"state_dict": {...}}``-style checkpoints and keep the tensors."""
    for _ in range(3):  # e.g. {"model": {"state_dict": ...}}
        inner = next((raw[k] for k in CONTAINER_KEYS if isinstance(raw.get(k), Mapping)), None)
        if not isinstance(inner, Mapping):
            break
        raw = inner
    tensors = {str(k): v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise BundleError(f"{path.name}: no named tensors found (not a state_dict)")
    return tensors


def _strip_prefixes(key: str, known: Mapping[str, object]) -> str:
    while key not in known:
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        if prefix is None:
            break
        key = key[len(prefix) :]
    return key


def _match_by_name(
    expected: Mapping[str, torch.Tensor], tensors: Mapping[str, torch.Tensor], path: Path
) -> tuple[dict[str, torch.Tensor], InitReport]:
    loaded: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    mismatched: list[str] = []
    for key, value in tensors.items():
        name = _strip_prefixes(key, expected)
        if name not in expected or name in loaded:
            unexpected.append(key)
        elif tuple(value.shape) != tuple(expected[name].shape):
            mismatched.append(name)
        else:
            loaded[name] = value
    missing = [k for k in expected if k not in loaded and k not in mismatched]
    report = InitReport(
        path,
        BY_NAME,
        len(loaded),
        len(missing),
        len(unexpected),
        len(mismatched),
        missing,
        unexpected,
        mismatched,
        list(loaded),
    )
    return loaded, report


def _conv_sequence(model: nn.Module) -> list[str]:
    """State-dict names of every Conv2d weight (then bias), in module order."""
    names = []
    for prefix, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            names.append(f"{prefix}.weight")
            if module.bias is not None:
                names.append(f"{prefix}.bias")
    return names


def _file_conv_sequence(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """File names of each layer with a 4-D weight (its weight, then its bias), in file order."""
    layers: dict[str, dict[str, str]] = {}
    for key in tensors:
        layer, _, leaf = key.rpartition(".")
        layers.setdefault(layer, {})[leaf] = key
    names = []
    for leaves in layers.values():
        weight = leaves.get("weight")
        if weight is not None and tensors[weight].dim() == 4:
            names.append(weight)
            if "bias" in leaves:
                names.append(leaves["bias"])
    return names


def _match_by_order(
    model: nn.Module,
    expected: Mapping[str, torch.Tensor],
    tensors: Mapping[str, torch.Tensor],
    path: Path,
) -> tuple[dict[str, torch.Tensor], InitReport]:
    loaded: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for ours, theirs in zip(_conv_sequence(model), _file_conv_sequence(tensors), strict=False):
        if tuple(expected[ours].shape) != tuple(tensors[theirs].shape):
            break  # the architectures diverge here; pairing further would be guesswork
        loaded[ours] = tensors[theirs]
        used.add(theirs)
    missing = [k for k in expected if k not in loaded]
    unexpected = [k for k in tensors if k not in used]
    report = InitReport(
        path,
        BY_ORDER,
        len(loaded),
        len(missing),
        len(unexpected),
        0,
        missing,
        unexpected,
        [],
        list(loaded),
    )
    return loaded, report


def _top_level(keys: list[str], limit: int = 3) -> list[str]:
    heads = list(dict.fromkeys(k.split(".", 1)[0] for k in keys))
    return heads[:limit] + (["..."] if len(heads) > limit else [])


def _natural_key(key: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
