"""The learned step of the public module: 64x64 refinement of the classical composite.

The refiner sees the original crop, the composite and its mask at the model's crop size and returns
a refined composite; only its difference from the composite is carried back, upsampled, onto the
frame-resolution composite, so the learned part adds a smooth correction (expression, light, seam)
and never lowers the composite's resolution.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.surrogate.composite import Composite
from shared.video.crops import CropGeom, crop_squares


class Refiner(Protocol):
    """Crops, composites [N,3,S,S] in [0,1] and masks [N,1,S,S] -> refined composites [N,3,S,S]."""

    @property
    def crop_size(self) -> int: ...

    def refine(self, crops: Tensor, composites: Tensor, masks: Tensor) -> Tensor: ...


def _square(arr: np.ndarray, g: CropGeom, mode: str) -> np.ndarray:
    """Region-sized array -> the full crop square (edge-replicated or zero where off-frame)."""
    pad = [(g.cy0 - g.y0, g.y0 + g.side - g.cy1), (g.cx0 - g.x0, g.x0 + g.side - g.cx1)]
    pad += [(0, 0)] * (arr.ndim - 2)
    if not any(p for pair in pad[:2] for p in pair):
        return arr
    return np.pad(arr, pad, mode="edge" if mode == "edge" else "constant")


def _to_size(arr: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_AREA if arr.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(arr, (size, size), interpolation=interp)


def refine_composites(refiner: Refiner, frames: np.ndarray,
                      items: list[tuple[CropGeom, Composite]]) -> None:  # fmt: skip
    """Refine every composite of a batch in one model call, in place."""
    size = refiner.crop_size
    crops = crop_squares(frames, [g for g, _ in items], size)  # [N,3,S,S] originals
    comps, masks = [], []
    for g, c in items:
        image, mask = c.over(frames[g.pos, g.cy0 : g.cy1, g.cx0 : g.cx1])
        comps.append(_to_size(_square(image, g, "edge"), size))
        masks.append(_to_size(_square(mask, g, "zero"), size))
    comp_t = torch.from_numpy(np.stack(comps)).permute(0, 3, 1, 2).div(255.0)
    mask_t = torch.from_numpy(np.stack(masks))[:, None]
    refined = refiner.refine(crops, comp_t, mask_t)
    delta = ((refined - comp_t) * 255.0).permute(0, 2, 3, 1).cpu().numpy()  # [N,S,S,3]
    for k, (g, comp) in enumerate(items):
        big = cv2.resize(delta[k], (g.side, g.side), interpolation=cv2.INTER_LINEAR)
        ox, oy = g.cx0 - g.x0, g.cy0 - g.y0
        rows, cols = comp.window()
        part = big[oy : oy + g.cy1 - g.cy0, ox : ox + g.cx1 - g.cx0][rows, cols]
        comp.image = cv2.add(comp.image, part, dtype=cv2.CV_8U)
