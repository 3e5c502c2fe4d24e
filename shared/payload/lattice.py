"""The cell lattice that carries the watermark: square cells of ``c`` px anchored at the frame origin.

Cells sit at fixed frame positions (column ``i`` covers x in [i*c, (i+1)*c)), not at positions
relative to the face box. A re-encode, a rescale and back, or a cut keep pixel positions, so a reader
without the manifest finds every cell exactly and only has to choose ``c`` among a few sizes.
Dither modulation needs that precision: on the probe clips, a one-pixel error in a face-relative
grid already turned 20% of the bits (``docs/PAYLOAD.md``). A track marks the cells whose centres lie
in its face box grown ``region`` times, re-anchored at every segment start; inside a segment the
cells stay put, so the encoder's motion search copies the mark from frame to frame.

Each cell carries one number, its projection: the luma under a smooth sin^2 window (peak 1 at the
centre, 0 at the border, so neighbouring cells never overlap and the mark has no block edges).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# Limited-range BT.601 luma of RGB, as OpenCV's RGB->I420 (the product's encoder) and libx264 see it.
_Y_WEIGHTS = np.array([65.738, 129.057, 25.064], dtype=np.float32) / 256.0
_Y_MATRIX = np.append(_Y_WEIGHTS, 16.0).astype(np.float32)[None, :]  # [1,4]: weights, offset
Y_GAIN = float(_Y_WEIGHTS.sum())  # luma change per unit added to R, G and B alike (0.859)
CELL_SIZES = (8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48)

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels


@dataclass(frozen=True)
class ChannelOptions:
    """Watermark parameters shared by the embedder and the reader (part of the payload format)."""

    segment: int = 8  # frames a symbol is held; the mark changes only at segment starts
    step: float = 16.0  # dither-modulation step in luma levels (a cell's peak moves <= step / 2)
    parts: int = 256  # segment k carries part k mod parts of the track's bit layout
    region: float = 2.0  # mark the cells whose centre lies in the face box grown this many times
    cells_across: float = 20.0  # aim for this many cells across the grown box
    cell_sizes: tuple[int, ...] = CELL_SIZES  # allowed cell sizes in px (smallest to largest)
    blur: float = 1.5  # Gaussian sigma (px) applied to luma before projecting (both sides)
    min_span: int = 0  # the region spans at least this many cells each way (small faces)


@dataclass(frozen=True)
class Cells:
    """A set of lattice cells of size ``c``: column indices ``ii`` and row indices ``jj`` (int64)."""

    c: int
    ii: np.ndarray
    jj: np.ndarray

    def __len__(self) -> int:
        return int(self.ii.size)

    def ids(self) -> np.ndarray:
        """One int64 per cell, unique within a frame (for overlap tests between tracks)."""
        return self.jj * 1_000_003 + self.ii

    def subset(self, keep: np.ndarray) -> Cells:
        """The cells where the boolean mask ``keep`` is true."""
        return Cells(self.c, self.ii[keep], self.jj[keep])


def cell_size(box_width: float, options: ChannelOptions) -> int:
    """The allowed cell size nearest to ``box_width * region / cells_across`` (log scale)."""
    ideal = max(box_width, 1.0) * options.region / options.cells_across
    sizes = np.asarray(options.cell_sizes, dtype=np.float64)
    return int(sizes[np.argmin(np.abs(np.log(sizes / ideal)))])


def luma(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 [H,W,3] -> limited-range BT.601 luma float32 [H,W] (what the encoder codes)."""
    return cv2.transform(rgb.astype(np.float32), _Y_MATRIX)  # one output channel: [H,W]


def smooth(y: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-blurred luma (sigma in px; 0 = unchanged): what the projections are taken of."""
    return cv2.GaussianBlur(y, (0, 0), sigma) if sigma > 0 else y


@lru_cache(maxsize=32)
def window(c: int) -> np.ndarray:
    """The c x c sin^2 window float64 (separable, peak near 1, zero at the cell border)."""
    u = np.sin(np.pi * (np.arange(c) + 0.5) / c) ** 2
    out = np.outer(u, u)
    out.setflags(write=False)
    return out


def region_cells(box: Box, c: int, options: ChannelOptions, width: int, height: int) -> Cells:
    """Cells wholly inside the frame whose centres lie in ``box`` grown ``options.region`` times
    (and at least ``options.min_span`` cells wide and high)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw = max((x1 - x0) * options.region, options.min_span * c) / 2
    hh = max((y1 - y0) * options.region, options.min_span * c) / 2
    i = np.arange(max(0, int((cx - hw) // c)), min(width // c, int((cx + hw) // c) + 1))
    j = np.arange(max(0, int((cy - hh) // c)), min(height // c, int((cy + hh) // c) + 1))
    ii, jj = np.meshgrid(i, j)
    inside = (np.abs((ii + 0.5) * c - cx) <= hw) & (np.abs((jj + 0.5) * c - cy) <= hh)
    return Cells(c, ii[inside].astype(np.int64), jj[inside].astype(np.int64))


def _rect(cells: Cells) -> tuple[int, int, int, int]:
    return (
        int(cells.ii.min()),
        int(cells.jj.min()),
        int(cells.ii.max()) + 1,
        int(cells.jj.max()) + 1,
    )


def local(cells: Cells) -> tuple[tuple[slice, slice], Cells]:
    """The pixel window (rows, columns) that holds the cells, and the cells relative to it.

    Work on ``frame[window]`` with the relative cells to touch only that window; hashes must still
    use the absolute cells.
    """
    i0, j0, i1, j1 = _rect(cells)
    c = cells.c
    rows, cols = slice(j0 * c, j1 * c), slice(i0 * c, i1 * c)
    return (rows, cols), Cells(c, cells.ii - i0, cells.jj - j0)


def project(y: np.ndarray, cells: Cells) -> np.ndarray:
    """Window-weighted luma of each cell, in luma levels: float64 [len(cells)]."""
    if not len(cells):
        return np.zeros(0)
    c, w = cells.c, window(cells.c)
    i0, j0, i1, j1 = _rect(cells)
    block = y[j0 * c : j1 * c, i0 * c : i1 * c].astype(np.float64)
    per_cell = np.einsum("acbd,cd->ab", block.reshape(j1 - j0, c, i1 - i0, c), w) / (w * w).sum()
    return np.asarray(per_cell[cells.jj - j0, cells.ii - i0])


def add_to_cells(rgb: np.ndarray, cells: Cells, luma_delta: np.ndarray) -> None:
    """Move each cell's projection by ``luma_delta`` (R, G and B alike), in place, rounded, clipped."""
    if not len(cells):
        return
    c, w = cells.c, window(cells.c).astype(np.float32)
    i0, j0, i1, j1 = _rect(cells)
    grid = np.zeros((j1 - j0, i1 - i0), dtype=np.float32)
    grid[cells.jj - j0, cells.ii - i0] = luma_delta / Y_GAIN
    field = (grid[:, None, :, None] * w[None, :, None, :]).reshape((j1 - j0) * c, (i1 - i0) * c)
    step = np.rint(field).astype(np.int16)  # rint(pixel + field) = pixel + rint(field)
    view = rgb[j0 * c : j1 * c, i0 * c : i1 * c]
    view[...] = cv2.add(view, cv2.merge([step, step, step]), dtype=cv2.CV_8U)  # saturating
