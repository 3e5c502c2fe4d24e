"""Motion gate for keyframe detection: on a static camera, new faces appear only where pixels change.

The gate compares a small grey thumbnail of each keyframe with the previous keyframe's and returns
the changed areas (grid cells, grown by a margin) in full-resolution pixels; the face stage runs
the detector on those windows only. Faces already tracked are followed by window search anyway, and
a periodic full-frame sweep catches anyone who appears without moving.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels


@dataclass(frozen=True)
class MotionOptions:
    """Thumbnail scale, change threshold (grey levels), margin, and when to give up gating."""

    thumb_scale: float = 1 / 8
    threshold: int = 10
    margin_px: int = 48  # a face straddling a changed area's edge is still inside the window
    max_fraction: float = 0.5  # more of the frame changed than this: detect on the whole frame


class MotionGate:
    """Keeps the previous keyframe's thumbnail; ``regions`` says where to look in the next one."""

    def __init__(self, options: MotionOptions | None = None) -> None:
        self.options = options or MotionOptions()
        self._prev: np.ndarray | None = None

    def _thumb(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        s = self.options.thumb_scale
        small = cv2.resize(
            frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA
        )
        return np.asarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), dtype=np.int16)

    def regions(self, frame: np.ndarray) -> list[Rect] | None:
        """Changed windows of ``frame`` since the last call; None means: look at the whole frame."""
        thumb = self._thumb(frame)
        prev, self._prev = self._prev, thumb
        if prev is None or prev.shape != thumb.shape:
            return None
        mask = (np.abs(thumb - prev) > self.options.threshold).astype(np.uint8)
        if mask.mean() > self.options.max_fraction:
            return None
        return self._rects(mask, frame.shape[1], frame.shape[0])

    def _rects(self, mask: np.ndarray, width: int, height: int) -> list[Rect] | None:
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sx, sy = width / mask.shape[1], height / mask.shape[0]
        m = self.options.margin_px
        rects: list[Rect] = []
        area = 0
        for x, y, w, h, _ in stats[1:n].tolist():  # row 0 is the background
            x0, y0 = max(0, int(x * sx) - m), max(0, int(y * sy) - m)
            x1, y1 = min(width, int((x + w) * sx) + m), min(height, int((y + h) * sy) + m)
            rects.append((x0, y0, x1, y1))
            area += (x1 - x0) * (y1 - y0)
        if area > self.options.max_fraction * width * height:
            return None
        return rects
