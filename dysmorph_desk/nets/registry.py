"""Architecture registry: name -> constructor, Grad-CAM target layer, input size, normalisation.

Like timm's ``create_model``: adding a network is one ``@register`` entry. This module imports no
torch, so listing architectures (CLI help, GUI pickers) stays cheap; constructors import lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ArchSpec:
    name: str
    build: Callable[[int], nn.Module]  # num_classes -> model with weights=None
    target_layer: Callable[[nn.Module], nn.Module]  # model -> layer Grad-CAM reads
    # model -> the final classifier: its input (flattened) is the embedding the ONNX forward graph
    # returns, L2-normalised, for similarity search. None: the architecture gives no embedding.
    head_layer: Callable[[nn.Module], nn.Module] | None = None
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    description: str = ""
    source: str = ""  # which seed study uses it


_REGISTRY: dict[str, ArchSpec] = {}


def register(name: str, *, target_layer: Callable[[Any], Any], **kwargs: Any):
    """Decorator for a ``build(num_classes)`` function."""

    def wrap(build: Callable[[int], nn.Module]) -> Callable[[int], nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        _REGISTRY[name] = ArchSpec(name=name, build=build, target_layer=target_layer, **kwargs)
        return build

    return wrap


def list_archs() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_arch(name: str) -> ArchSpec:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create_model(name: str, num_classes: int) -> nn.Module:
    """Build an architecture with random weights (never downloads)."""
    if num_classes < 2:
        raise ValueError("a classifier needs at least 2 classes")
    return get_arch(name).build(num_classes)


def _load_builtin() -> None:
    from dysmorph_desk.nets import builtin  # noqa: F401  (registers on import)
