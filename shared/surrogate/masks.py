"""Soft masks: the feathered face oval (where a donor is blended) and the box ellipse (blur cover).

Both are analytic: a normalised elliptic radius r per pixel and a smoothstep from 1 (r <= 1 - f)
to 0 (r >= 1), so the edge is soft at every size and costs one vectorised pass.
"""

from __future__ import annotations

import numpy as np

from shared.surrogate.geometry import oval


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def ellipse_mask(shape: tuple[int, int], centre: tuple[float, float], axes: tuple[float, float],
                 angle: float, feather: float) -> np.ndarray:  # fmt: skip
    """float32 [h,w] in 0..1: 1 inside the ellipse shrunk by ``feather`` (fraction of its radius),
    falling smoothly to 0 on the ellipse itself. ``axes`` are full lengths, ``angle`` degrees."""
    h, w = shape
    a, b = max(axes[0] / 2, 1e-3), max(axes[1] / 2, 1e-3)
    t = np.radians(angle)
    c, s = np.cos(t), np.sin(t)
    ys = np.arange(h, dtype=np.float32)[:, None] + 0.5 - centre[1]
    xs = np.arange(w, dtype=np.float32)[None, :] + 0.5 - centre[0]
    u = (xs * c + ys * s) / a
    v = (-xs * s + ys * c) / b
    r = np.sqrt(u * u + v * v)
    if feather <= 0:
        return (r <= 1.0).astype(np.float32)
    return _smoothstep((1.0 - r) / feather).astype(np.float32)


def oval_mask(points: np.ndarray, shape: tuple[int, int], scale: float = 1.0,
              feather: float = 0.25, top: float = 0.75) -> np.ndarray:  # fmt: skip
    """The feathered inner-face oval of landmarks ``points`` [5,2] on an [h,w] canvas."""
    centre, axes, angle = oval(points, scale, top)
    return ellipse_mask(shape, centre, axes, angle, feather)


def box_ellipse_mask(shape: tuple[int, int], box: tuple[float, float, float, float],
                     scale: float = 1.15, feather: float = 0.3) -> np.ndarray:  # fmt: skip
    """A feathered ellipse over a face box (x0, y0, x1, y1) on an [h,w] canvas: the blur cover."""
    x0, y0, x1, y1 = box
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    return ellipse_mask(shape, centre, ((x1 - x0) * scale, (y1 - y0) * scale), 0.0, feather)
