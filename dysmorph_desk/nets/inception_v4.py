"""Inception-v4 (Szegedy et al. 2016), 299x299 input: seed 000's comparison model 3.

timm is not a dependency, so the network is written out from the paper (Figures 3-9): stem,
4 x Inception-A, Reduction-A, 7 x Inception-B, Reduction-B, 3 x Inception-C, average pool,
dropout 0.2, linear. Module names follow timm / Cadene's port (``features.N.branchK``, each
conv unit ``conv`` + ``bn`` with eps 1e-3, head ``last_linear``) so their ImageNet weights load by
name. About 41M parameters before the head (42.7M with the 1000-class one).
"""

from __future__ import annotations

import torch
from torch import nn

_Size = int | tuple[int, int]


class ConvBN(nn.Module):
    """Conv (no bias) + BatchNorm + ReLU: every convolution of the network."""

    def __init__(
        self, cin: int, cout: int, kernel: _Size, stride: int = 1, padding: _Size = 0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def _seq(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


def _avg_branch(cin: int, cout: int) -> nn.Sequential:
    return _seq(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), ConvBN(cin, cout, 1))


class _Concat(nn.Module):
    """Runs the ``branch*`` children on the same input and concatenates their channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for n, b in self.named_children() if n.startswith("branch")], 1)


class Mixed3a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.maxpool = nn.MaxPool2d(3, stride=2)
        self.conv = ConvBN(64, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.maxpool(x), self.conv(x)), 1)


class Mixed4a(_Concat):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = _seq(ConvBN(160, 64, 1), ConvBN(64, 96, 3))
        self.branch1 = _seq(
            ConvBN(160, 64, 1),
            ConvBN(64, 64, (1, 7), padding=(0, 3)),
            ConvBN(64, 64, (7, 1), padding=(3, 0)),
            ConvBN(64, 96, 3),
        )


class Mixed5a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = ConvBN(192, 192, 3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.conv(x), self.maxpool(x)), 1)


class InceptionA(_Concat):  # 35x35x384
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = ConvBN(384, 96, 1)
        self.branch1 = _seq(ConvBN(384, 64, 1), ConvBN(64, 96, 3, padding=1))
        self.branch2 = _seq(
            ConvBN(384, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, padding=1)
        )
        self.branch3 = _avg_branch(384, 96)


class ReductionA(_Concat):  # 35 -> 17, 384 -> 1024 (k, l, m, n = 192, 224, 256, 384)
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = ConvBN(384, 384, 3, stride=2)
        self.branch1 = _seq(
            ConvBN(384, 192, 1), ConvBN(192, 224, 3, padding=1), ConvBN(224, 256, 3, stride=2)
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)


class InceptionB(_Concat):  # 17x17x1024
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = ConvBN(1024, 384, 1)
        self.branch1 = _seq(
            ConvBN(1024, 192, 1),
            ConvBN(192, 224, (1, 7), padding=(0, 3)),
            ConvBN(224, 256, (7, 1), padding=(3, 0)),
        )
        self.branch2 = _seq(
            ConvBN(1024, 192, 1),
            ConvBN(192, 192, (7, 1), padding=(3, 0)),
            ConvBN(192, 224, (1, 7), padding=(0, 3)),
            ConvBN(224, 224, (7, 1), padding=(3, 0)),
            ConvBN(224, 256, (1, 7), padding=(0, 3)),
        )
        self.branch3 = _avg_branch(1024, 128)


class ReductionB(_Concat):  # 17 -> 8, 1024 -> 1536
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = _seq(ConvBN(1024, 192, 1), ConvBN(192, 192, 3, stride=2))
        self.branch1 = _seq(
            ConvBN(1024, 256, 1),
            ConvBN(256, 256, (1, 7), padding=(0, 3)),
            ConvBN(256, 320, (7, 1), padding=(3, 0)),
            ConvBN(320, 320, 3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)


class InceptionC(nn.Module):  # 8x8x1536; branches 1 and 2 end in a (1x3, 3x1) split
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = ConvBN(1536, 256, 1)
        self.branch1_0 = ConvBN(1536, 384, 1)
        self.branch1_1a = ConvBN(384, 256, (1, 3), padding=(0, 1))
        self.branch1_1b = ConvBN(384, 256, (3, 1), padding=(1, 0))
        self.branch2_0 = ConvBN(1536, 384, 1)
        self.branch2_1 = ConvBN(384, 448, (3, 1), padding=(1, 0))
        self.branch2_2 = ConvBN(448, 512, (1, 3), padding=(0, 1))
        self.branch2_3a = ConvBN(512, 256, (1, 3), padding=(0, 1))
        self.branch2_3b = ConvBN(512, 256, (3, 1), padding=(1, 0))
        self.branch3 = _avg_branch(1536, 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.branch1_0(x)
        x2 = self.branch2_2(self.branch2_1(self.branch2_0(x)))
        return torch.cat(
            (
                self.branch0(x),
                self.branch1_1a(x1),
                self.branch1_1b(x1),
                self.branch2_3a(x2),
                self.branch2_3b(x2),
                self.branch3(x),
            ),
            1,
        )


class InceptionV4(nn.Module):
    def __init__(self, num_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            ConvBN(3, 32, 3, stride=2),
            ConvBN(32, 32, 3),
            ConvBN(32, 64, 3, padding=1),  # stem: 147x147x64
            Mixed3a(),
            Mixed4a(),
            Mixed5a(),  # stem: 35x35x384
            *(InceptionA() for _ in range(4)),
            ReductionA(),
            *(InceptionB() for _ in range(7)),
            ReductionB(),
            *(InceptionC() for _ in range(3)),  # (B, 1536, 8, 8) at 299
        )
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(dropout)
        self.last_linear = nn.Linear(1536, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.global_pool(self.features(x)).flatten(1)
        return self.last_linear(self.head_drop(x))
