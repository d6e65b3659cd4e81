"""Seed 000's hybrid: MobileNetV2 features refined by a BiLSTM, then dropout, linear, softmax.

The 7x7x1280 feature map is read as a 49-step sequence (row-major). The "optimized" BiLSTM shares
one set of LSTM weights between the forward and the backward pass of each layer (halving its
parameters); ``shared=False`` gives the ordinary BiLSTM (model 7 of the paper). The classifier reads
the mean over the 49 steps of the concatenated forward/backward outputs.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import mobilenet_v2


class SharedBiLSTM(nn.Module):
    """Stacked bidirectional LSTM with one weight set per layer for both directions.

    Both directions run as one batched call (the reversed sequence stacked on the batch axis),
    which is also why sharing is cheap: one cuDNN/MKL kernel per layer instead of two.
    Inter-layer dropout is not used, so train() mode (needed for cuDNN backward) changes nothing.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.LSTM(input_size if i == 0 else 2 * hidden_size, hidden_size, batch_first=True)
            for i in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, 2H)
        n = x.shape[0]
        for lstm in self.layers:
            out, _ = lstm(torch.cat([x, x.flip(1)], dim=0))
            x = torch.cat([out[:n], out[n:].flip(1)], dim=-1)
        return x


class UnsharedBiLSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            input_size, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


class MobileNetV2BiLSTM(nn.Module):
    def __init__(
        self,
        num_classes: int,
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.3,
        shared: bool = True,
    ) -> None:
        super().__init__()
        self.features = mobilenet_v2(weights=None).features  # (B, 1280, 7, 7) at 224
        seq = SharedBiLSTM if shared else UnsharedBiLSTM
        self.sequence = seq(1280, hidden_size, num_layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        steps = f.flatten(2).transpose(1, 2)  # (B, 49, 1280)
        out = self.sequence(steps).mean(dim=1)
        return self.classifier(self.dropout(out))
