"""Seed 001: insightface's IResNet-100 face-recognition backbone with an ArcFace / CosFace head.

The backbone mirrors ``arcface_torch/backbones/iresnet.py`` parameter for parameter (``conv1, bn1,
prelu, layer1..4, bn2, dropout, fc, features``), so the face-recognition checkpoints that paper
pretrains from load by name. It maps a 112x112 face to a 512-d embedding.

The margin head holds one weight vector per class. ``forward`` returns s*cos(theta) between the
L2-normalised embedding and class vectors, so at inference the model screens like any classifier
(softmax over these logits). Training adds the margin to the target class only, through
``margin_logits`` (the training loop calls it before cross-entropy): ArcFace s*cos(theta + m),
CosFace s*(cos(theta) - m). Without the margin it would be a plain normalised softmax.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

MarginKind = Literal["arcface", "cosface"]
DEFAULT_SCALE = 64.0
DEFAULT_MARGIN: dict[str, float] = {"arcface": 0.5, "cosface": 0.35}


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class IBasicBlock(nn.Module):
    """BN - conv3x3 - BN - PReLU - conv3x3(stride) - BN, plus the (projected) identity."""

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-5)
        self.conv1 = conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5)
        self.prelu = nn.PReLU(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-5)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


class IResNet(nn.Module):
    """The embedding network: (B, 3, 112, 112) -> (B, 512)."""

    fc_scale = 7 * 7  # the 112 input reaches layer4 at 7x7

    def __init__(
        self,
        layers: tuple[int, int, int, int] = (3, 13, 30, 3),
        dropout: float = 0.0,
        num_features: int = 512,
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(256, layers[2])
        self.layer4 = self._make_layer(512, layers[3])
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(512 * self.fc_scale, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False  # as insightface: a fixed-scale feature BN
        # Not insightface's N(0, 0.1) conv init: with it a fresh 100-layer model overflows to inf in
        # eval mode (untrained BN statistics). He init plus a zeroed last BN per residual branch
        # (Goyal et al. 2017) starts each block as the identity; checkpoints overwrite all of it.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, IBasicBlock):
                nn.init.zeros_(m.bn3.weight)

    def _make_layer(self, planes: int, blocks: int) -> nn.Sequential:
        downsample = nn.Sequential(
            nn.Conv2d(self.inplanes, planes, 1, 2, bias=False), nn.BatchNorm2d(planes, eps=1e-5)
        )
        layers = [IBasicBlock(self.inplanes, planes, 2, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)


class CosineHead(nn.Module):
    """s * cos(angle between embedding and each class vector): logits in [-s, s]."""

    def __init__(
        self, num_classes: int, num_features: int = 512, scale: float = DEFAULT_SCALE
    ) -> None:
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(num_classes, num_features))
        nn.init.normal_(self.weight, std=0.01)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        # float32 even under autocast: s=64 amplifies half-precision rounding of the cosine
        with torch.autocast(emb.device.type, enabled=False):
            cos = F.linear(F.normalize(emb.float()), F.normalize(self.weight.float()))
        return self.scale * cos.clamp(-1.0, 1.0)


class IResNetMargin(IResNet):
    """IResNet-100 + cosine head; ``margin_logits`` applies the ArcFace or CosFace margin."""

    def __init__(
        self,
        num_classes: int,
        kind: MarginKind,
        scale: float = DEFAULT_SCALE,
        margin: float | None = None,
    ) -> None:
        super().__init__()
        if kind not in DEFAULT_MARGIN:
            raise ValueError(f"margin kind must be arcface or cosface, not {kind!r}")
        self.kind = kind
        self.margin = DEFAULT_MARGIN[kind] if margin is None else margin
        self.head = CosineHead(num_classes, 512, scale)
        # ArcFace fallback where theta + m would pass pi (cos(theta+m) stops decreasing there):
        # for cos(theta) <= cos(pi - m), use cos(theta) - m*sin(m), as insightface does.
        self._threshold = math.cos(math.pi - self.margin)
        self._fallback = math.sin(math.pi - self.margin) * self.margin

    @property
    def scale(self) -> float:
        return self.head.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def margin_logits(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Training logits: the forward's s*cos(theta) with the margin on each row's target class."""
        s = self.head.scale
        cos = (logits.float() / s).clamp(-1.0, 1.0)
        if self.kind == "cosface":
            with_margin = cos - self.margin
        else:
            theta = torch.acos(cos.clamp(-1.0 + 1e-7, 1.0 - 1e-7))  # finite gradient at +-1
            with_margin = torch.where(
                cos > self._threshold, torch.cos(theta + self.margin), cos - self._fallback
            )
        is_target = F.one_hot(target.long(), cos.shape[1]).bool()
        return torch.where(is_target, s * with_margin, logits.float())
