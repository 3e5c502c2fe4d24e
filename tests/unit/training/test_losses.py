"""Loss terms: directions of ANO / CON / DIV, the reference's contradiction, SSIM, wrong key."""

from __future__ import annotations

import torch

from shared.training import losses as L


def _same_if_equal(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A fake recogniser: probability 'same' falls with the mean abs difference."""
    return torch.exp(-10 * (a - b).abs().mean(dim=(1, 2, 3)))


def test_reference_con_and_div_pull_same_subject_pairs_in_opposite_directions() -> None:
    # 2 subjects x 4 images, every image of a subject identical: same-subject pairs score p ~ 1.
    subject = torch.rand(2, 3, 8, 8)
    a1 = subject.repeat_interleave(4, 0)
    con, div = L.con_div_reference(
        {"identity": _same_if_equal}, a1, a1.clone(), {"identity": -1}, 4
    )
    # CON = mean(+p) over same-subject pairs: minimising it pushes them apart ...
    assert abs(con.item() - 1.0) < 1e-6
    # ... while DIV labels the rolled same-subject rows -1: minimising -p pushes them together.
    assert div.item() < -0.2


def test_resolved_con_rewards_same_subject_agreement_and_div_rewards_difference() -> None:
    a1 = torch.rand(8, 3, 8, 8)
    same_con, _ = L.con_div_resolved({"identity": _same_if_equal}, a1, a1.clone(), 4)
    diff_con, _ = L.con_div_resolved({"identity": _same_if_equal}, a1, torch.rand(8, 3, 8, 8), 4)
    assert same_con < diff_con
    flat = torch.zeros(8, 3, 8, 8)
    _, collapsed_div = L.con_div_resolved({"identity": _same_if_equal}, flat, flat, 4)
    _, varied_div = L.con_div_resolved({"identity": _same_if_equal}, a1, a1.clone(), 4)
    assert varied_div < collapsed_div  # all surrogates alike is what DIV punishes


def test_product_ano_applies_s_to_the_surrogate_only() -> None:
    p_same, p_diff = torch.full((4,), 0.99), torch.full((4,), 0.01)
    s = {"identity": -1, "beard": 1}
    good = L.ano_product(
        {"identity": p_diff, "beard": p_same}, {"identity": p_same, "beard": p_same}, s
    )
    bad = L.ano_product(
        {"identity": p_same, "beard": p_diff}, {"identity": p_same, "beard": p_diff}, s
    )
    assert good < 0.1 < bad


def test_reference_ano_is_the_linear_s_weighted_score_difference() -> None:
    p_xa, p_xo = {"identity": torch.full((2,), 0.2)}, {"identity": torch.full((2,), 0.9)}
    assert abs(L.ano_reference(p_xa, p_xo, {"identity": -1}).item() - (0.2 - 0.9)) < 1e-6


def test_ssim_of_identical_images_is_one_and_lower_for_noise() -> None:
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(L.ssim(x, x), torch.ones(2), atol=1e-5)
    assert (L.ssim(x, torch.rand(2, 3, 32, 32)) < 0.5).all()


def test_wrong_key_hinge_is_zero_once_far_enough_and_positive_when_close() -> None:
    x = torch.zeros(2, 3, 8, 8)
    assert L.wrong_key(x + 0.5, x, margin=0.25) == 0
    assert L.wrong_key(x + 0.05, x, margin=0.25) > 0


def test_soft_histogram_is_differentiable_and_reference_histogram_is_not() -> None:
    x, a = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16, requires_grad=True)
    L.histogram_product(x, a).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert not L.histogram_reference(x, a).requires_grad


def test_standardize_gives_zero_mean_unit_std_per_image() -> None:
    y = L.standardize(torch.rand(3, 3, 16, 16) * 5 + 2)
    assert torch.allclose(y.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.std(dim=(1, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
