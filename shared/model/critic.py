"""The PatchGAN critic shared by the surrogate A and the reconstruction O (one 8x8 score map at 64x64)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.model.unet import init_weights

CRITIC_BASE: tuple[int, ...] = (64, 128, 256, 512)


class PatchCritic(nn.Module):
    """Convs 64, 128, 256, 512 -> 1 (4x4; strides 2, 2, 2, 1, 1; BN on the middle three)."""

    def __init__(self, width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        c1, c2, c3, c4 = (max(1, round(c * width)) for c in CRITIC_BASE)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, c1, 4, stride=2, padding=1),  # 64 -> 32
            nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),  # 32 -> 16
            nn.BatchNorm2d(c2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c2, c3, 4, stride=2, padding=1),  # 16 -> 8
            nn.BatchNorm2d(c3),
            nn.LeakyReLU(0.2),
            # Keras padding="same" at stride 1 keeps 8x8: an even kernel pads 1 before, 2 after.
            nn.ZeroPad2d((1, 2, 1, 2)),
            nn.Conv2d(c3, c4, 4, stride=1),
            nn.BatchNorm2d(c4),
            nn.LeakyReLU(0.2),
            nn.ZeroPad2d((1, 2, 1, 2)),
            nn.Conv2d(c4, 1, 4, stride=1),  # -> [N, 1, 8, 8]
        )
        init_weights(self)

    def logits(self, x: Tensor) -> Tensor:
        """[N,3,64,64] -> patch logits [N,1,8,8] (use with BCE-with-logits in training)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """[N,3,64,64] -> patch probabilities of "real" [N,1,8,8]."""
        return torch.sigmoid(self.logits(x))
