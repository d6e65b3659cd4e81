"""Freezing the first blocks of a network initialised from pretrained weights.

Early blocks run at the highest resolution and dominate the backward pass on a CPU; when they
come from a pretrained file they can stay fixed (weights and BatchNorm statistics), which is how
transfer learning is usually done on small clinical sets. Meaningless on random weights, so the
CLI allows it only with ``--init``.
"""

from __future__ import annotations

from torch import nn


def early_blocks(model: nn.Module) -> list[nn.Module]:
    """The network's blocks from input to output, at the granularity freezing works in.

    ``features`` (MobileNet, VGG, DenseNet, the hybrid) gives its children; otherwise the model's
    top-level children in order, expanding ``layerN`` stages (ResNet, IResNet) into their blocks.
    """
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential):
        return list(features.children())
    blocks: list[nn.Module] = []
    for name, child in model.named_children():
        if name.startswith("layer") and isinstance(child, nn.Sequential):
            blocks.extend(child.children())
        else:
            blocks.append(child)
    return blocks


def freeze_early(model: nn.Module, n_blocks: int) -> list[nn.Module]:
    """Stop gradients through the first ``n_blocks`` blocks; returns them (keep them in eval mode)."""
    blocks = early_blocks(model)
    if not 0 <= n_blocks < len(blocks):
        raise ValueError(f"can freeze 0-{len(blocks) - 1} blocks of this network, not {n_blocks}")
    frozen = blocks[:n_blocks]
    for block in frozen:
        for p in block.parameters():
            p.requires_grad_(False)
        block.eval()
    return frozen


def keep_frozen_in_eval(frozen: list[nn.Module]) -> None:
    """Call after ``model.train()``: frozen BatchNorm layers keep their pretrained statistics."""
    for block in frozen:
        block.eval()
