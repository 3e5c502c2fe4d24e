"""Paint a track's decoded identity code back over its surrogate (second pass of payload restoration).

The code is a 32 px thumbnail of the original face from one frame; the surrogate in the received
clip gives the pose of every other frame. Per face: the 5 landmarks of the surrogate (YuNet in a
window around the box, smoothed along the track in box units; the box's mean landmarks when it finds
none), a similarity that takes the thumbnail's own landmarks onto them, the thumbnail's colour
matched to the surrogate's (which the public module matched to the original face in that frame),
and the same blend the public module uses: the face oval of both, feathered, tapered to zero at the
crop square's border (``shared.surrogate.composite``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from shared.surrogate.composite import CompositeOptions, blend, compose
from shared.surrogate.geometry import as_points
from shared.surrogate.painters import TEMPLATE
from shared.video.crops import CROP_MARGIN, feather_mask, square_geom
from shared.video.detect import FaceDetector, make_detector
from shared.video.types import FaceBox, box_iou

DETECT_FACE_PX = 80.0  # the window is scaled so the face is about this wide for landmarks
WINDOW = 0.5  # window = box grown by this many box sizes on each side
THUMB_SCALE = 4  # landmarks of the 32 px thumbnail are found at 4x


@dataclass(frozen=True)
class PaintOptions:
    """Blend and pose settings of the restored face."""

    # No grain (evidence, not a public picture); the sharpening of an enlarged donor helps the
    # judge a little on a 32 px code (wolfgang, 12 frames: mean distance 0.601 against 0.612).
    composite: CompositeOptions = field(default_factory=lambda: CompositeOptions(grain=0.0))
    # The 32 px WebP thumbnail's 4x4 coding blocks become 20-30 px squares on a large face:
    # the code is enlarged THUMB_SCALE times and smoothed (sigma in thumbnail pixels) once.
    deblock: float = 0.3
    smoothing: float = 0.5  # EMA weight of a frame's own landmarks (box units), as the painter's
    min_iou: float = 0.3  # a window detection must overlap the box this much to give the pose


def _best(found: list[FaceBox], box: FaceBox, min_iou: float) -> FaceBox | None:
    best = max(found, key=lambda f: box_iou(f.corners, box.corners), default=None)
    return best if best is not None and box_iou(best.corners, box.corners) >= min_iou else None


def window_landmarks(frame: np.ndarray, box: FaceBox, detector: FaceDetector,
                     min_iou: float = 0.3) -> np.ndarray | None:  # fmt: skip
    """The 5 landmarks [5,2] (frame pixels) of the face at ``box``, found in a window around it."""
    h, w = frame.shape[:2]
    gx, gy = box.width * WINDOW, box.height * WINDOW
    x0, y0 = max(0, int(box.x0 - gx)), max(0, int(box.y0 - gy))
    x1, y1 = min(w, int(box.x1 + gx) + 1), min(h, int(box.y1 + gy) + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    s = DETECT_FACE_PX / max(box.width, box.height, 1.0)
    window = frame[y0:y1, x0:x1]
    size = (max(8, round((x1 - x0) * s)), max(8, round((y1 - y0) * s)))
    small = cv2.resize(window, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    sx, sy = (x1 - x0) / size[0], (y1 - y0) / size[1]
    found = [f.mapped(sx, sy, x0, y0) for f in detector.detect(small)]
    best = _best(found, box, min_iou)
    return None if best is None or best.landmarks is None else as_points(best.landmarks)


def thumbnail_points(thumb: np.ndarray, margin: float, detector: FaceDetector) -> np.ndarray:
    """The landmarks [5,2] of a code thumbnail (its pixels): YuNet at 4x, else the mean landmarks
    of the face box the code was cut around (a square of side box * (1 + 2 margin))."""
    n = thumb.shape[0]
    big = cv2.resize(thumb, (n * THUMB_SCALE, n * THUMB_SCALE), interpolation=cv2.INTER_CUBIC)
    pad = n * THUMB_SCALE // 4
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    inner = n / (1 + 2 * margin)  # the face box's side in thumbnail pixels
    lo = (n - inner) / 2
    expected = FaceBox(lo, lo, lo + inner, lo + inner)
    found = [f.mapped(1 / THUMB_SCALE, 1 / THUMB_SCALE, -pad / THUMB_SCALE, -pad / THUMB_SCALE)
             for f in detector.detect(big)]  # fmt: skip
    best = _best(found, expected, 0.3)
    if best is not None and best.landmarks is not None:
        return as_points(best.landmarks)
    return np.asarray(TEMPLATE * inner + lo, dtype=np.float64)


@dataclass
class _Pose:
    rel: np.ndarray | None = None  # smoothed landmarks in box units [5,2]


class CodePainter:
    """Paints decoded codes over their tracks' surrogates, frame by frame, in place."""

    def __init__(self, margin: float, options: PaintOptions | None = None,
                 detector: FaceDetector | None = None) -> None:  # fmt: skip
        self.margin = margin
        self.options = options or PaintOptions()
        self.detector = detector or make_detector("yunet")
        self._codes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._poses: dict[int, _Pose] = {}

    def set_code(self, key: int, thumb: np.ndarray) -> None:
        """The decoded thumbnail (RGB uint8 [n,n,3]) that track ``key`` gets back."""
        points = thumbnail_points(thumb, self.margin, self.detector)
        if self.options.deblock > 0:
            n, k = thumb.shape[0], THUMB_SCALE
            big = cv2.resize(thumb, (n * k, n * k), interpolation=cv2.INTER_CUBIC)
            thumb = cv2.GaussianBlur(big, (0, 0), self.options.deblock * k)
            points = (points + 0.5) * k - 0.5  # pixel centres, as cv2.resize maps them
        self._codes[key] = (thumb, points)

    def paint(self, frame: np.ndarray, key: int, box: FaceBox) -> bool:
        """Paint track ``key``'s face at ``box`` into RGB uint8 ``frame``; False if it has no code."""
        code = self._codes.get(key)
        if code is None:
            return False
        h, w = frame.shape[:2]
        g = square_geom(box, 0, w, h, CROP_MARGIN)
        if g.cx1 - g.cx0 < 2 or g.cy1 - g.cy0 < 2:
            return False
        region = frame[g.cy0 : g.cy1, g.cx0 : g.cx1]
        ox, oy = g.cx0 - g.x0, g.cy0 - g.y0
        border = feather_mask(g.side, CROP_MARGIN)[
            oy : oy + region.shape[0], ox : ox + region.shape[1], 0
        ]
        points = self._points(key, frame, box) - np.array([g.cx0, g.cy0], dtype=np.float64)
        try:
            comp = compose(region, code[0], code[1], points, border, self.options.composite)
        except ValueError:  # degenerate landmarks: leave the surrogate
            return False
        blend(region, comp)
        return True

    def _points(self, key: int, frame: np.ndarray, box: FaceBox) -> np.ndarray:
        """This frame's landmarks in frame pixels, smoothed along the track in box units."""
        pose = self._poses.setdefault(key, _Pose())
        size = np.array([max(box.width, 1.0), max(box.height, 1.0)])
        origin = np.array([box.x0, box.y0])
        found = window_landmarks(frame, box, self.detector, self.options.min_iou)
        if found is not None:
            rel = (found - origin) / size
        else:
            rel = pose.rel if pose.rel is not None else TEMPLATE
        a = self.options.smoothing
        pose.rel = rel if pose.rel is None else a * rel + (1.0 - a) * pose.rel
        return np.asarray(origin + pose.rel * size, dtype=np.float64)
