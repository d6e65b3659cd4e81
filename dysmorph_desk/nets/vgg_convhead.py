"""Seed 003's VGG-16: the 13 conv layers, with the three fully connected layers made convolutions.

The paper replaces VGG-16's FC layers by convolutions, each with BatchNorm + ReLU and 50% dropout,
then softmax. Sizes chosen here (the paper gives none): a 3x3 conv 512 -> 512 on the 7x7 map keeps
spatial context where FC-6 had its 7x7 receptive field; a 1x1 conv 512 -> 256 narrows it (a small
dataset of faces does not need 4096 channels); a 1x1 conv 256 -> classes gives per-position class
scores, averaged over the map into logits. 2.5M head parameters instead of FC's 120M: the
"less computing capacity and time" the paper reports. ``features`` is torchvision's vgg16
``features`` (same layers, same names, same init), so ImageNet / VGG-Face weights load by name; it
is built with torchvision's ``make_layers`` rather than ``vgg16()`` to skip allocating and
initialising the 120M-parameter classifier that would be thrown away (seconds on a CPU).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers


def _conv_bn_relu_drop(cin: int, cout: int, kernel: int, dropout: float) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
    ]


class VGG16ConvHead(nn.Module):
    def __init__(
        self, num_classes: int, width: int = 512, bottleneck: int = 256, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.features = make_layers(cfgs["D"])  # vgg16().features: (B, 512, 7, 7) at 224
        self.head = nn.Sequential(
            *_conv_bn_relu_drop(512, width, 3, dropout),
            *_conv_bn_relu_drop(width, bottleneck, 1, dropout),
            nn.Conv2d(bottleneck, num_classes, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():  # torchvision VGG's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head(self.features(x))).flatten(1)
