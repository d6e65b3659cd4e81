"""MobileNet v1 (Howard et al. 2017), width 1.0, 224 input: seed 000's comparison model 5.

torchvision ships only v2/v3, so v1 is written out here: a 3x3 stride-2 stem, then 13
depthwise-separable blocks (3x3 depthwise conv + BN + ReLU, 1x1 pointwise conv + BN + ReLU),
global average pool, dropout, linear. About 3.2M parameters before the head.
"""

from __future__ import annotations

import torch
from torch import nn

# (output channels, stride) of the 13 depthwise-separable blocks (Table 1 of the paper)
_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def conv_bn_relu(
    cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DepthwiseSeparable(nn.Sequential):
    """One v1 block: the depthwise 3x3 filters each channel, the pointwise 1x1 mixes channels."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__(conv_bn_relu(cin, cin, 3, stride, groups=cin), conv_bn_relu(cin, cout, 1))


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int, dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(3, 32, 3, stride=2)]
        cin = 32
        for cout, stride in _BLOCKS:
            layers.append(DepthwiseSeparable(cin, cout, stride))
            cin = cout
        self.features = nn.Sequential(*layers)  # (B, 1024, 7, 7) at 224
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(self.dropout(x))
