"""BiLSTM alone (seed 000, model 6): the rows of the downscaled face are the sequence.

Without a CNN, the LSTM has to read pixels; at 224x224 a row is 672 numbers and the sequence 224
steps long, so the face is first average-pooled to 56x56 (4x4 blocks: still resolves eyes, nose
and mouth). Each of the 56 rows, its 56x3 values flattened, is one step of a 2-layer BiLSTM(128)
read top to bottom and bottom to top; the mean over steps goes through dropout 0.3 and a linear
layer, as in the hybrid.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dysmorph_desk.nets.hybrid import UnsharedBiLSTM


class Downscale(nn.Module):
    """Average-pool to ``size`` x ``size``, then a per-channel BatchNorm.

    The BatchNorm standardises the pixel features the LSTM reads, and gives this layer parameters,
    so its (B, 3, h, w) output requires grad even when the input does not: this is the Grad-CAM
    target layer (a map at row resolution), and pytorch-grad-cam only hooks outputs that require
    grad.
    """

    def __init__(self, size: int = 56, channels: int = 3) -> None:
        super().__init__()
        self.size = size
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.adaptive_avg_pool2d(x, self.size))


class RowBiLSTM(nn.Module):
    def __init__(
        self,
        num_classes: int,
        size: int = 56,
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.downscale = Downscale(size)
        # the ordinary BiLSTM: the weight-shared one is the paper's own contribution (model 8)
        self.sequence = UnsharedBiLSTM(3 * size, hidden_size, num_layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        small = self.downscale(x)  # (B, 3, h, w)
        rows = small.permute(0, 2, 1, 3).flatten(2)  # (B, h, 3 * w): row r = its 3 colour lines
        out = self.sequence(rows).mean(dim=1)
        return self.classifier(self.dropout(out))
