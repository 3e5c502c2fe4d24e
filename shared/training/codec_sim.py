"""Differentiable stand-in for H.264 between the public and the private module (training only).

Each call draws one degradation per batch: down/up-scaling, Gaussian blur, 4:2:0 chroma subsampling,
JPEG-like 8x8 DCT quantisation (rounding with a straight-through gradient), noise and 8-bit
quantisation. The private module then learns to restore from what a real codec leaves.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# JPEG Annex K luminance / chrominance tables (quality 50).
_LUMA_Q = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
_CHROMA_Q = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32  # fmt: skip


@dataclass(frozen=True)
class CodecSimConfig:
    """Ranges the per-batch degradation is drawn from."""

    min_scale: float = 0.5  # downscale factor range (0.5 = 32 px faces)
    blur_sigma_max: float = 1.0
    quality_min: int = 55
    quality_max: int = 95
    noise_std_max: float = 0.02
    p_scale: float = 0.6
    p_blur: float = 0.4
    p_jpeg: float = 0.9


def straight_through_round(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity backward."""
    return x + (torch.round(x) - x).detach()


def _dct_matrix(n: int = 8) -> torch.Tensor:
    """Orthonormal DCT-II matrix [n, n]."""
    m = torch.zeros(n, n)
    for k in range(n):
        for i in range(n):
            scale = math.sqrt(1.0 / n) if k == 0 else math.sqrt(2.0 / n)
            m[k, i] = scale * math.cos(math.pi * (2 * i + 1) * k / (2 * n))
    return m


def _quality_scale(quality: int) -> float:
    """libjpeg's quality -> table scale factor."""
    q = max(1, min(100, quality))
    return (5000.0 / q if q < 50 else 200.0 - 2.0 * q) / 100.0


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """[N,3,H,W] RGB in [0,1] -> YCbCr in [0,255] (JPEG full range)."""
    r, g, b = (x * 255.0).unbind(1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return torch.stack((y, cb, cr), 1)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of rgb_to_ycbcr, back to [0,1] (not clamped)."""
    y, cb, cr = x.unbind(1)
    r = y + 1.402 * (cr - 128.0)
    g = y - 0.344136 * (cb - 128.0) - 0.714136 * (cr - 128.0)
    b = y + 1.772 * (cb - 128.0)
    return torch.stack((r, g, b), 1) / 255.0


def jpeg_like(x: torch.Tensor, quality: int) -> torch.Tensor:
    """8x8 block DCT quantisation of [N,3,H,W] in [0,1] with 4:2:0 chroma; H, W multiples of 16."""
    n, _, h, w = x.shape
    ycc = rgb_to_ycbcr(x) - 128.0
    # 4:2:0: chroma averaged over 2x2 then brought back (as yuv420p does).
    chroma = F.interpolate(F.avg_pool2d(ycc[:, 1:], 2), scale_factor=2.0, mode="nearest")
    ycc = torch.cat((ycc[:, :1], chroma), 1)
    d = _dct_matrix().to(x.device, x.dtype)
    scale = _quality_scale(quality)
    luma = torch.tensor(_LUMA_Q, device=x.device, dtype=x.dtype).view(8, 8)
    chro = torch.tensor(_CHROMA_Q, device=x.device, dtype=x.dtype).view(8, 8)
    table = torch.stack((luma, chro, chro)).mul(scale).clamp(min=1.0)  # [3,8,8]
    # [N,3,H,W] -> blocks [N,3,H/8,W/8,8,8]
    blocks = ycc.view(n, 3, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    coef = d @ blocks @ d.T
    q = table.view(1, 3, 1, 1, 8, 8)
    coef = straight_through_round(coef / q) * q
    blocks = d.T @ coef @ d
    out = blocks.permute(0, 1, 2, 4, 3, 5).reshape(n, 3, h, w) + 128.0
    return ycbcr_to_rgb(out)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, reflect padding, same shape."""
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


class CodecSim(torch.nn.Module):
    """Random codec-like degradation of [N,3,H,W] in [0,1]; differentiable almost everywhere."""

    def __init__(self, config: CodecSimConfig | None = None, seed: int | None = None) -> None:
        super().__init__()
        self.config = config or CodecSimConfig()
        self._rng = random.Random(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Degrade a batch; returns the same shape, values in [0,1]."""
        c, rng = self.config, self._rng
        size = x.shape[-1]
        if rng.random() < c.p_scale:
            small = max(8, int(size * rng.uniform(c.min_scale, 1.0)))
            x = F.interpolate(x, size=(small, small), mode="bilinear", align_corners=False)
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        if rng.random() < c.p_blur:
            x = gaussian_blur(x, rng.uniform(0.3, c.blur_sigma_max))
        if rng.random() < c.p_jpeg and size % 16 == 0:
            x = jpeg_like(x, rng.randint(c.quality_min, c.quality_max))
        if c.noise_std_max > 0:
            x = x + torch.randn_like(x) * rng.uniform(0.0, c.noise_std_max)
        # 8-bit quantisation as in the stored video, gradient passed straight through.
        return straight_through_round(x.clamp(0.0, 1.0) * 255.0) / 255.0
