"""What each single observation (one cell in one frame) says about its codeword bit.

An observation's soft value (``qim.soft``: -1 on a bit-0 point, +1 on a bit-1 point) is weighed by
how reliable it looks. The features below describe that; two weightings use them:

- analytic (the default): Gaussian noise of deviation sigma around the lattice gives
  E[latticeness] = exp(-8 pi^2 sigma^2 / step^2), so 1 / sigma^2 is proportional to
  -1 / ln(latticeness); the weight is the geometric mean of that precision for the cell (over its
  segment) and for the frame (over all its cells). Unmarked cells (about 0) weigh almost nothing;
  frames the codec treated harshly (B-frames, a rescale) weigh less;
- learned (``llr_model``): a logistic calibration of the same features on synthetic scenes
  through real libx264.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = (
    "one",
    "log_precision_cell",  # log(-1 / ln(cell latticeness over its segment))
    "log_precision_frame",  # log(-1 / ln(frame latticeness over its cells))
    "cell_latticeness",
    "frame_latticeness",
    "segment_position",  # 0 at a segment's first frame, (segment - 1) / segment at its last
    "latticeness",  # of this observation alone
    "abs_soft",
)


@dataclass(frozen=True)
class Evidence:
    """Per observation: the codeword bit it carries, its soft value and its features [m, k]."""

    bit: np.ndarray  # int64 [m]
    soft: np.ndarray  # float64 [m]
    features: np.ndarray  # float64 [m, len(FEATURES)]


def precision(mean_latticeness: np.ndarray) -> np.ndarray:
    """1 / noise variance, up to a constant, from a mean latticeness (clipped to 0.01..0.9 so a
    few lucky frames cannot dominate)."""
    return -1.0 / np.log(np.clip(mean_latticeness, 0.01, 0.9))


def gather(soft: np.ndarray, lattice: np.ndarray, bit: np.ndarray, cell_group: np.ndarray,
           frame: np.ndarray, position: np.ndarray) -> Evidence:  # fmt: skip
    """Features of m observations; ``cell_group`` names a cell within a segment, ``frame`` a frame."""
    _, cell = np.unique(cell_group, return_inverse=True)
    per_cell = np.bincount(cell, weights=lattice) / np.bincount(cell)
    _, fr = np.unique(frame, return_inverse=True)
    per_frame = np.bincount(fr, weights=lattice) / np.bincount(fr)
    pc, pf = per_cell[cell], per_frame[fr]
    features = np.stack(
        [np.ones_like(soft), np.log(precision(pc)), np.log(precision(pf)), pc, pf, position,
         lattice, np.abs(soft)],
        axis=1,
    )  # fmt: skip
    return Evidence(bit.astype(np.int64), soft, features)


def analytic_weight(features: np.ndarray) -> np.ndarray:
    """sqrt(cell precision x frame precision) per observation."""
    return np.exp(0.5 * (features[:, 1] + features[:, 2]))
