"""The codec simulation between the modules: changes the image, stays differentiable, keeps range."""

from __future__ import annotations

import torch

from shared.training.codec_sim import CodecSim, CodecSimConfig, jpeg_like, straight_through_round


def test_codec_simulation_is_differentiable_and_changes_the_image() -> None:
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    y = CodecSim(seed=3)(x)
    assert y.shape == x.shape and y.min() >= 0.0 and y.max() <= 1.0
    assert (y - x).abs().mean() > 1e-3
    y.mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_jpeg_like_keeps_a_flat_image_and_degrades_detail_more_at_low_quality() -> None:
    flat = torch.full((1, 3, 64, 64), 0.5)
    assert (jpeg_like(flat, 75) - flat).abs().max() < 0.01
    detail = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    err_hi = (jpeg_like(detail, 95) - detail).abs().mean()
    err_lo = (jpeg_like(detail, 30) - detail).abs().mean()
    assert err_lo > err_hi


def test_straight_through_round_rounds_forward_and_passes_gradient() -> None:
    x = torch.tensor([0.2, 1.7], requires_grad=True)
    y = straight_through_round(x)
    assert torch.equal(y.detach(), torch.tensor([0.0, 2.0]))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(2))  # type: ignore[arg-type]


def test_codec_simulation_with_every_step_disabled_only_quantises() -> None:
    cfg = CodecSimConfig(p_scale=0.0, p_blur=0.0, p_jpeg=0.0, noise_std_max=0.0)
    x = torch.rand(1, 3, 64, 64)
    assert (CodecSim(cfg)(x) - x).abs().max() <= 0.5 / 255 + 1e-6
