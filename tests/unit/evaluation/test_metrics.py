"""Evaluation metrics on known inputs."""

from __future__ import annotations

import numpy as np
import torch

from shared.evaluation.metrics import PSNR_CAP_DB, mean, pair_auc, psnr, rate, ssim


def test_psnr_of_identical_images_is_capped_and_known_for_a_uniform_error() -> None:
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert psnr(img, img) == PSNR_CAP_DB
    a = np.zeros((8, 8, 3), np.float64)
    assert abs(psnr(a, a + 0.1) - 20.0) < 1e-9  # MSE 0.01 -> 20 dB


def test_ssim_is_one_for_identical_images_and_lower_for_noise() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert abs(ssim(img, img) - 1.0) < 1e-9
    assert ssim(img, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) < 0.2


def test_pair_auc_is_one_for_perfect_ranking_half_for_ties_and_zero_when_inverted() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    assert pair_auc(torch.tensor([0.1, 0.2, 0.8, 0.9]), labels) == 1.0
    assert pair_auc(torch.tensor([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert pair_auc(torch.tensor([0.9, 0.8, 0.2, 0.1]), labels) == 0.0
    assert pair_auc(torch.tensor([0.3, 0.4]), torch.tensor([1, 1])) == 0.5


def test_rate_and_mean_report_none_when_empty() -> None:
    assert rate([True, False, True, True]) == 0.75
    assert rate([]) is None and mean([]) is None
    assert mean([1.0, float("nan"), 3.0]) == 2.0
