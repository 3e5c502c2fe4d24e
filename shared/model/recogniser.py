"""The reference's pairwise recogniser: do two 64x64 crops share a trait (identity or an attribute)?"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.model.unet import init_weights

# (out_channels, stride) of the six 3x3 convs: 64 -> 32 -> 32 -> 32 -> 16 -> 8 -> 4 px.
CONV_PLAN: tuple[tuple[int, int], ...] = ((16, 2), (64, 1), (128, 1), (64, 2), (64, 2), (64, 2))


class PairRecogniser(nn.Module):
    """Two RGB crops concatenated to 6 channels -> probability that they share the class."""

    def __init__(self, crop_size: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, size = 6, crop_size
        for c_out, stride in CONV_PLAN:
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2),
                nn.Dropout(dropout),
            ]
            c_in, size = c_out, (size + stride - 1) // stride
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * size * size, 128),  # 64*4*4 = 1024 -> 128 at 64 px
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(128, 1),
        )
        init_weights(self)

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        """[N,3,64,64] x2 -> same-class logits [N] (use with BCE-with-logits in training)."""
        return self.head(self.features(torch.cat([a, b], dim=1))).squeeze(1)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """[N,3,64,64] x2 -> probability that a and b share the class, [N]."""
        return torch.sigmoid(self.logits(a, b))
