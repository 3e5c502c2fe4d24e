"""Batched, torch-only degradation of clean 64x64 faces down to surveillance quality.

Each image draws its own parameters: geometric jitter (flip, shift, scale, rotation), a low-resolution
round trip (down to 20-50 px and back, as crops of 24-50 px faces stretched to 64 are), Gaussian blur,
JPEG (8x8 DCT quantisation with the standard tables, 4:2:0 chroma), sensor noise, brightness/contrast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# ITU-T T.81 Annex K tables (quality 50), rows of 8.
_LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
           14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
           92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]  # fmt: skip
_CHROMA_Q = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99,
             99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32  # fmt: skip


@dataclass(frozen=True)
class DegradeOptions:
    """Probabilities and ranges of each degradation (each image draws its own)."""

    p_flip: float = 0.5
    max_shift: float = 0.06  # fraction of the crop
    max_scale: float = 0.08
    max_rotate_deg: float = 8.0
    p_lowres: float = 0.8
    min_px: int = 20
    max_px: int = 50
    p_blur: float = 0.4
    max_blur_sigma: float = 1.2
    p_jpeg: float = 0.6
    min_quality: int = 30
    max_quality: int = 90
    p_noise: float = 0.5
    max_noise_std: float = 0.03
    brightness: float = 0.15  # additive, +-
    contrast: float = 0.2  # multiplicative, 1 +-


def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _coin(n: int, p: float, g: torch.Generator | None) -> Tensor:
    return torch.rand(n, generator=g) < p


def geometric_jitter(x: Tensor, opts: DegradeOptions, g: torch.Generator | None = None) -> Tensor:
    """Random flip, shift, scale and rotation per image, one grid_sample for the batch."""
    n = x.shape[0]
    ang = torch.deg2rad(_uniform(n, -opts.max_rotate_deg, opts.max_rotate_deg, g))
    scale = 1.0 + _uniform(n, -opts.max_scale, opts.max_scale, g)
    flip = torch.where(_coin(n, opts.p_flip, g), -1.0, 1.0)
    shift = _uniform(2 * n, -opts.max_shift, opts.max_shift, g).view(n, 2) * 2  # in [-1,1] units
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(ang) / scale * flip
    theta[:, 0, 1] = -torch.sin(ang) / scale
    theta[:, 1, 0] = torch.sin(ang) / scale * flip
    theta[:, 1, 1] = torch.cos(ang) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def low_resolution(x: Tensor, sizes: Tensor) -> Tensor:
    """Per image: area-downscale to sizes[i] px and bilinear back up (one call per distinct size)."""
    out = x.clone()
    h, w = x.shape[-2:]
    for s in sizes.unique().tolist():
        idx = torch.nonzero(sizes == s).squeeze(1).to(x.device)
        small = F.interpolate(x[idx], size=(int(s), int(s)), mode="area")
        out[idx] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def gaussian_blur(x: Tensor, sigmas: Tensor) -> Tensor:
    """Per-image Gaussian blur, sigma 0 = unchanged; one grouped conv for the batch."""
    n, c = x.shape[:2]
    radius = max(1, math.ceil(3 * float(sigmas.max())))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    sig = sigmas.to(x.device, x.dtype).clamp_min(1e-3).view(n, 1)
    k1 = torch.exp(-(t.view(1, -1) ** 2) / (2 * sig**2))
    k1 = k1 / k1.sum(1, keepdim=True)  # [N, 2r+1]
    k2 = (k1[:, :, None] * k1[:, None, :]).repeat_interleave(c, 0).unsqueeze(1)  # [N*C,1,k,k]
    y = F.conv2d(
        F.pad(x.reshape(1, n * c, *x.shape[-2:]), [radius] * 4, mode="reflect"), k2, groups=n * c
    )
    return y.view_as(x)


def _dct_matrix(device: torch.device, dtype: torch.dtype) -> Tensor:
    k = torch.arange(8, dtype=dtype, device=device)
    d = torch.cos((2 * k.view(1, 8) + 1) * k.view(8, 1) * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d  # orthonormal DCT-II, [8, 8]


def _quant_tables(quality: Tensor, device: torch.device, dtype: torch.dtype) -> Tensor:
    q = quality.to(device, dtype).clamp(1, 100)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q).view(-1, 1, 1)
    base = torch.tensor([_LUMA_Q, _CHROMA_Q], device=device, dtype=dtype).view(1, 2, 8, 8)
    return torch.floor((base * scale.unsqueeze(1) + 50) / 100).clamp(1, 255)  # [N, 2, 8, 8]


def jpeg_like(x: Tensor, quality: Tensor) -> Tensor:
    """JPEG round trip per image: YCbCr, 4:2:0 chroma, 8x8 DCT quantised with quality-scaled tables."""
    n, _, h, w = x.shape
    r, gch, b = (x * 255).unbind(1)
    y = 0.299 * r + 0.587 * gch + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * gch + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * gch - 0.081312 * b
    ycc = torch.stack([y, cb, cr], 1)
    chroma = F.interpolate(F.avg_pool2d(ycc[:, 1:], 2), size=(h, w), mode="nearest")
    ycc = torch.cat([ycc[:, :1], chroma], 1) - 128
    d = _dct_matrix(x.device, x.dtype)
    kron = torch.kron(d, d)  # D @ B @ D.T on a flattened 8x8 block is one [64,64] matmul
    blocks = ycc.view(n, 3, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)  # [N,3,bh,bw,8,8]
    coef = blocks.reshape(n, 3, -1, 64) @ kron.T  # [N,3,blocks,64]
    tables = _quant_tables(quality, x.device, x.dtype).view(n, 2, 1, 64)
    qt = torch.cat([tables[:, :1], tables[:, 1:2], tables[:, 1:2]], 1)  # [N,3,1,64]
    rec = (torch.round(coef / qt) * qt) @ kron  # inverse DCT (orthonormal)
    rec = rec.view(n, 3, h // 8, w // 8, 8, 8)
    ycc = rec.permute(0, 1, 2, 4, 3, 5).reshape(n, 3, h, w) + 128
    y, cb, cr = ycc.unbind(1)
    rgb = torch.stack(
        [
            y + 1.402 * (cr - 128),
            y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
            y + 1.772 * (cb - 128),
        ],
        1,
    )
    return (torch.round(rgb.clamp(0, 255)) / 255).to(x.dtype)


def degrade(x: Tensor, opts: DegradeOptions, generator: torch.Generator | None = None) -> Tensor:
    """[N,3,64,64] clean in [0,1] -> degraded [N,3,64,64] in [0,1], each image its own draw."""
    n, g = x.shape[0], generator
    x = geometric_jitter(x, opts, g)
    pick = _coin(n, opts.p_lowres, g).to(x.device)
    # Sizes on a 4 px grid: few distinct sizes -> few interpolate calls.
    sizes = torch.randint(opts.min_px // 4, opts.max_px // 4 + 1, (n,), generator=g) * 4
    x = torch.where(pick.view(n, 1, 1, 1), low_resolution(x, sizes), x)
    sigmas = _uniform(n, 0.3, opts.max_blur_sigma, g) * _coin(n, opts.p_blur, g)
    x = gaussian_blur(x, sigmas) if bool((sigmas > 0).any()) else x
    gain = 1 + _uniform(n, -opts.contrast, opts.contrast, g).to(x.device).view(n, 1, 1, 1)
    bias = _uniform(n, -opts.brightness, opts.brightness, g).to(x.device).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * gain + mean + bias).clamp(0, 1)
    std = _uniform(n, 0, opts.max_noise_std, g) * _coin(n, opts.p_noise, g)
    noise = torch.randn(x.shape, generator=g).to(x.device) * std.to(x.device).view(n, 1, 1, 1)
    x = (x + noise).clamp(0, 1)
    pick = _coin(n, opts.p_jpeg, g).to(x.device)
    quality = torch.randint(opts.min_quality, opts.max_quality + 1, (n,), generator=g)
    return torch.where(pick.view(n, 1, 1, 1), jpeg_like(x, quality), x).clamp(0, 1)
