"""Degradation: ranges, shapes, and that each step really degrades."""

from __future__ import annotations

import torch

from shared.data.augment import DegradeOptions, degrade, gaussian_blur, jpeg_like, low_resolution


def _smooth_images(n: int = 4) -> torch.Tensor:
    # Smooth colour gradients plus a few edges: image-like, unlike white noise.
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    base = torch.stack([x, y, (x + y) / 2])
    imgs = base.unsqueeze(0).repeat(n, 1, 1, 1)
    imgs[:, :, 20:40, 20:40] = 0.9
    return imgs


def test_degrade_keeps_shape_and_unit_range() -> None:
    x = _smooth_images(8)
    y = degrade(x, DegradeOptions(), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert not torch.allclose(x, y)


def test_jpeg_is_near_lossless_at_high_quality_and_lossy_at_low() -> None:
    x = _smooth_images()
    hi = (jpeg_like(x, torch.full((4,), 95)) - x).abs().mean()
    lo = (jpeg_like(x, torch.full((4,), 10)) - x).abs().mean()
    assert float(hi) < 0.02 and float(lo) > float(hi)


def test_low_resolution_and_blur_remove_detail() -> None:
    x = _smooth_images()
    x[:, :, ::2] = 0.0  # 1-px stripes: the finest detail there is
    lowres = low_resolution(x, torch.tensor([24, 24, 32, 64]))
    blurred = gaussian_blur(x, torch.tensor([1.0, 1.0, 1.0, 0.0]))
    assert float((lowres[:3] - x[:3]).abs().mean()) > 0.1
    assert torch.allclose(lowres[3], x[3], atol=1e-5)  # 64 px: unchanged
    assert float((blurred[:3] - x[:3]).abs().mean()) > 0.1
    assert torch.allclose(blurred[3], x[3], atol=1e-4)  # sigma 0: unchanged
