"""Image and ranking metrics used by evaluation and by phase 1's model selection."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

PSNR_CAP_DB = 100.0  # identical images: report this instead of infinity (keeps JSON valid)


def pair_auc(scores: Tensor, labels: Tensor) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula; ties get average ranks; 0.5 if one class."""
    s = scores.detach().flatten().double().cpu()
    y = labels.detach().flatten().bool().cpu()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = torch.argsort(s)
    ranks = torch.empty_like(s)
    ranks[order] = torch.arange(1, s.numel() + 1, dtype=torch.float64)
    # Average ranks over ties.
    uniq, inverse = torch.unique(s, return_inverse=True)
    sums = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(0, inverse, ranks)
    counts = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(
        0, inverse, torch.ones_like(ranks)
    )
    ranks = (sums / counts)[inverse]
    u = ranks[y].sum().item() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 (or [0,1] float) images; identical -> PSNR_CAP_DB."""
    x, y = _as_unit(a), _as_unit(b)
    mse = float(np.mean((x - y) ** 2))
    if mse <= 1e-12:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(1.0 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (scikit-image, colour, Gaussian window) of two HxWx3 images."""
    from skimage.metrics import structural_similarity

    x, y = _as_unit(a), _as_unit(b)
    return float(
        structural_similarity(
            x, y, channel_axis=-1, data_range=1.0, gaussian_weights=True, sigma=1.5
        )
    )


def _as_unit(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    return np.clip(img.astype(np.float64), 0.0, 1.0)


def rate(flags: list[bool]) -> float | None:
    """Share of True; None for an empty list (reported as "n/a")."""
    return None if not flags else float(sum(flags)) / len(flags)


def mean(values: list[float]) -> float | None:
    """Mean ignoring NaN; None when empty."""
    vals = [v for v in values if not math.isnan(v)]
    return None if not vals else float(sum(vals) / len(vals))
