"""Dither modulation (QIM) of cell projections, and the keyless layout of bits over cells and parts.

A cell carrying bit ``b`` in part ``p`` has its projection moved to the nearest point of the lattice
``d + b * step / 2 + k * step``, where the dither ``d`` in [0, step) is a hash of the cell's lattice
position, its size and the part. The host image does not interfere (the point of QIM: a face's own
texture is 10-50 times stronger than any invisible additive mark), and a reader recognises marked
cells, their size and the part they carry without any side information: their projections sit on
the union lattice ``d + k * step / 2`` of that part, and nowhere near it under any other dither.

Bit positions follow the lattice: cell (i, j) in part p carries codeword bit
``(p * A + i + ROW_STRIDE * j) mod n``, with ``A`` the golden-ratio fraction of ``n``. A row of
cells carries a run of consecutive bits, so the bits a track never shows fall into whole bytes
(a Reed-Solomon erasure costs a byte, so scattered unseen bits would erase far more bytes), and
successive parts start their runs at evenly spread offsets. Nothing here is secret: the bits are
ciphertext, and the layout only has to be the same on both sides.
"""

from __future__ import annotations

import numpy as np

from shared.payload.lattice import Cells

ROW_STRIDE = 40  # > the widest track region in cells, so a part's rows carry distinct bits
_GOLDEN_FRACTION = 0.6180339887498949
_DITHER_SALT = np.uint64(0x6A09E667F3BCC908)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def cell_hash(cells: Cells, parts: np.ndarray, salt: np.uint64) -> np.ndarray:
    """uint64 hash of (salt, c, i, j, part); ``parts`` broadcasts against the cells' shape."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(cells.c, dtype=np.uint64) * _GOLDEN ^ salt)
        h = _mix(h ^ cells.ii.astype(np.uint64))
        h = _mix(h ^ (cells.jj.astype(np.uint64) << np.uint64(20)))
        return _mix(h ^ (np.asarray(parts).astype(np.uint64) << np.uint64(40)))


def dither(cells: Cells, parts: np.ndarray, step: float, dtype: type = np.float64) -> np.ndarray:
    """Dither in [0, step) per cell (and per part when ``parts`` is [P,1]).

    float64 (what the embedder writes) from the hash's top 53 bits; float32 from its top 24 bits,
    within step / 2**24 of it: for the reader's clock search over every part, where float32's
    vectorised cosine is ~30x faster than float64's."""
    bits = 53 if dtype == np.float64 else 24
    h = cell_hash(cells, parts, _DITHER_SALT) >> np.uint64(64 - bits)
    return h.astype(dtype) * dtype(step / 2.0**bits)


def bit_index(cells: Cells, part: int, n_bits: int) -> np.ndarray:
    """Which codeword bit each cell carries in ``part``: int64 in [0, n_bits)."""
    advance = round(n_bits * _GOLDEN_FRACTION) | 1
    return (part * advance + cells.ii + ROW_STRIDE * cells.jj) % n_bits


def targets(proj: np.ndarray, bits: np.ndarray, dith: np.ndarray, step: float) -> np.ndarray:
    """The lattice point of each cell's bit nearest to its projection."""
    offset = dith + bits * (step / 2.0)
    return np.rint((proj - offset) / step) * step + offset


def soft(proj: np.ndarray, dith: np.ndarray, step: float) -> np.ndarray:
    """Soft bit in [-1, 1] per projection: -1 on a bit-0 point, +1 on a bit-1 point, 0 halfway."""
    x = (proj - dith) / step
    return 4.0 * np.abs(x - np.rint(x)) - 1.0


def latticeness(proj: np.ndarray, dith: np.ndarray, step: float) -> np.ndarray:
    """cos(4 pi (proj - d) / step): 1 on either bit's lattice, 0 on average for unmarked cells.

    In the dtype of ``proj`` and ``dith`` (float32 for both: float32)."""
    return np.cos((4.0 * np.pi / step) * (proj - dith))
