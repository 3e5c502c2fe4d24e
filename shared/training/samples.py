"""PNG sample grids: one row per face, columns input | surrogate | restoration | wrong-key restoration."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

COLUMNS = ("x", "a", "o", "o_wrong")


def grid(images: dict[str, Tensor], rows: int = 8, columns: Sequence[str] = COLUMNS) -> np.ndarray:
    """dict of [N,3,H,W] in [0,1] -> uint8 HxWx3 grid, 2 px gaps; missing columns are skipped."""
    cols = [images[c][:rows].detach().float().clamp(0, 1).cpu() for c in columns if c in images]
    n = min(t.shape[0] for t in cols)
    h, w = cols[0].shape[-2:]
    gap = 2
    out = np.full((n * (h + gap), len(cols) * (w + gap), 3), 255, dtype=np.uint8)
    for j, col in enumerate(cols):
        arr = (col[:n].permute(0, 2, 3, 1).numpy() * 255.0).round().astype(np.uint8)
        for i in range(n):
            out[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = arr[i]
    return out


def save_grid(path: Path, images: dict[str, Tensor], rows: int = 8) -> Path:
    """Write the grid as PNG (parents created)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid(images, rows)).save(path)
    return path
