"""Face stage: detect on every k-th (optionally downscaled) frame, track, fill the frames between.

A scene cut ends every track (a face never coasts into the next shot) and makes the cut frame a
keyframe with a full sweep; the frame before it closes the old shot as a keyframe too.

Between two keyframes a track seen at both ends is interpolated; a track seen at one end only
(it appeared or left in between) is followed frame by frame with a full-resolution detection in a
small window around it, so faces are not lost between keyframes; a live track the keyframe
detector missed (downscale, blur) gets the same window search before it is given up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from shared.video.cuts import CutOptions, SceneCuts
from shared.video.detect import FaceDetector, nms_faces
from shared.video.motion import MotionGate, MotionOptions, Rect
from shared.video.track import IouTracker, TrackerOptions
from shared.video.types import FaceBox, FrameBatch, Track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceStageOptions:
    """k (``every``), full sweeps, motion gating, downscale, and the window search for recall."""

    every: int = 10  # detect on frames 0, k, 2k, ... (1: every frame); see bench_recall.py
    full_every: int = 50  # full-frame, full-res sweep on frames 0, n, 2n, ... (0: frame 0 only)
    motion_gate: bool = True  # other keyframes: full-res detection where pixels changed only
    motion: MotionOptions = field(default_factory=MotionOptions)
    detect_scale: float = 1.0  # keyframes without a gate (or too much motion): resize by this
    refine: bool = True  # window search for tracks that start/end/miss between keyframes
    roi_context: float = 1.0  # window = box grown by this many box sizes on each side
    roi_min_face: int = 64  # upscale a window so the face is at least this many pixels
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    cut_detection: bool = True  # end every track at a scene cut and detect on the cut frame
    cuts: CutOptions = field(default_factory=CutOptions)


@dataclass
class _Span:
    """The frames strictly between keyframes ``first`` and ``last``, and the boxes found in them."""

    first: int
    last: int
    between: list[_Pending]
    fill: list[dict[int, FaceBox]]


@dataclass
class _Pending:
    frame: np.ndarray  # uint8 [H,W,3]
    index: int
    pts: int
    cut: bool = False  # first frame of a new shot: a full-frame sweep


class FaceStage:
    """Streams frame batches through detection + tracking; yields (batch, boxes per frame)."""

    def __init__(self, detector: FaceDetector, options: FaceStageOptions | None = None) -> None:
        self.detector = detector
        self.options = options or FaceStageOptions()
        self.tracker = IouTracker(self.options.tracker)
        self.gate = MotionGate(self.options.motion) if self.options.motion_gate else None
        self.cuts = SceneCuts(self.options.cuts) if self.options.cut_detection else None
        self.cut_frames: list[int] = []  # frame indices where a new shot began
        self.detector_calls = 0

    def run(
        self, batches: Iterable[FrameBatch]
    ) -> Iterator[tuple[FrameBatch, list[list[FaceBox]]]]:
        """Re-chunks the stream so each output batch ends on a resolved keyframe."""
        pending: list[_Pending] = []  # frames after the last keyframe, not yet resolved
        prev_key: tuple[int, dict[int, FaceBox]] | None = None
        done: list[tuple[_Pending, list[FaceBox]]] = []
        k = max(1, self.options.every)
        tb = None
        for batch in batches:
            tb = batch.time_base
            for frame, idx, pts in zip(batch.frames, batch.indices, batch.pts, strict=True):
                item = _Pending(frame, int(idx), int(pts))
                if self.cuts is not None and self.cuts.is_cut(frame):
                    # A new shot: resolve the old one up to its last frame, end its tracks (no
                    # track coasts across a cut), and detect on the cut frame itself.
                    if pending:
                        last = pending.pop()
                        self._resolve(prev_key, pending, last, done)
                    self.tracker.end_all()
                    self.cut_frames.append(item.index)
                    prev_key, pending, item.cut = None, [], True
                elif item.index % k:
                    pending.append(item)
                    continue
                prev_key = self._resolve(prev_key, pending, item, done)
                pending = []
            if done:
                yield _emit(done, tb)
                done = []
        if pending:  # the clip ends between keyframes: the last frame becomes one
            last = pending.pop()
            self._resolve(prev_key, pending, last, done)
        if done and tb is not None:
            yield _emit(done, tb)

    def tracks(self) -> list[Track]:
        """Tracks seen so far (ids from 1, never reused)."""
        return self.tracker.tracks()

    def _resolve(
        self,
        prev_key: tuple[int, dict[int, FaceBox]] | None,
        between: list[_Pending],
        key: _Pending,
        done: list[tuple[_Pending, list[FaceBox]]],
    ) -> tuple[int, dict[int, FaceBox]]:
        """Detect on ``key``, fill the frames ``between`` the previous keyframe and it."""
        boxes = self._keyframe_boxes(key)
        now = {b.track_id: b for b in boxes}
        span = _Span(-1, key.index, between, [{} for _ in between])
        if prev_key is not None and between:
            span.first, before = prev_key
            for tid in before.keys() | now.keys():
                self._fill_track(tid, before.get(tid), now.get(tid), span)
        for item, found in zip(between, span.fill, strict=True):
            done.append((item, sorted(found.values(), key=lambda b: b.track_id)))
        done.append((key, boxes))
        return key.index, now

    def _keyframe_boxes(self, key: _Pending) -> list[FaceBox]:
        dets = self._detect_keyframe(key)
        live = self.tracker.live_boxes(key.index)
        tracked = self.tracker.update(key.index, dets)
        if not self.options.refine:
            return tracked
        seen = {b.track_id for b in tracked}
        rescued = []
        for tid, guess in live.items():  # live track the keyframe detector missed
            if tid not in seen:
                found = self._detect_near(key.frame, guess)
                if found is not None:
                    rescued.append(found)
        if rescued:
            tracked += self.tracker.update(key.index, rescued)
        return tracked

    def _fill_track(self, tid: int, a: FaceBox | None, b: FaceBox | None, span: _Span) -> None:
        """Boxes of track ``tid`` between keyframes where it was ``a`` (first) and ``b`` (last)."""
        between, fill = span.between, span.fill
        if a is not None and b is not None:  # seen at both ends: interpolate
            for j, item in enumerate(between):
                t = (item.index - span.first) / (span.last - span.first)
                fill[j][tid] = a.lerp(b, t).with_track(tid)
            return
        if not self.options.refine:
            return
        order = range(len(between)) if a is not None else range(len(between) - 1, -1, -1)
        guess = a if a is not None else b
        for j in order:  # follow it from the end where it was seen until the window is empty
            assert guess is not None
            found = self._detect_near(between[j].frame, guess)
            if found is None:
                break
            guess = found.with_track(tid)
            fill[j][tid] = guess

    def _detect_keyframe(self, key: _Pending) -> list[FaceBox]:
        """Full sweep on schedule; otherwise the changed windows only (or the downscaled frame)."""
        every = self.options.full_every
        sweep = key.cut or key.index == 0 or (every > 0 and key.index % every == 0)
        regions = self.gate.regions(key.frame) if self.gate is not None else None
        if sweep:
            return self._detect_full(key.frame, 1.0)
        if regions is None:
            return self._detect_full(key.frame, self.options.detect_scale)
        return self._detect_regions(key.frame, regions)

    def _detect_regions(self, frame: np.ndarray, regions: list[Rect]) -> list[FaceBox]:
        """Full-resolution detection in each window, merged by NMS (windows may overlap)."""
        found: list[FaceBox] = []
        h, w = frame.shape[:2]
        for x0, y0, x1, y1 in regions:
            if x1 - x0 < 16 or y1 - y0 < 16:
                continue
            self.detector_calls += 1
            win = np.ascontiguousarray(frame[y0:y1, x0:x1])
            found += [
                b.mapped(1.0, 1.0, x0, y0)
                for b in self.detector.detect(win)
                if not _cut_by_window(b, (x0, y0, x1, y1), w, h)
            ]
        if len(found) < 2:
            return found
        return [found[i] for i in nms_faces(found, 0.4).tolist()]

    def _detect_full(self, frame: np.ndarray, scale: float) -> list[FaceBox]:
        self.detector_calls += 1
        if scale == 1.0:
            return self.detector.detect(frame)
        h, w = frame.shape[:2]
        small = cv2.resize(
            frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
        sx, sy = w / small.shape[1], h / small.shape[0]
        return [b.mapped(sx, sy) for b in self.detector.detect(small)]

    def _detect_near(self, frame: np.ndarray, guess: FaceBox) -> FaceBox | None:
        """Full-resolution detection in a window around ``guess``; the best match or None."""
        h, w = frame.shape[:2]
        size = max(guess.width, guess.height, 4.0)
        pad = size * self.options.roi_context
        x0, y0 = max(int(guess.x0 - pad), 0), max(int(guess.y0 - pad), 0)
        x1, y1 = min(int(guess.x1 + pad) + 1, w), min(int(guess.y1 + pad) + 1, h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        up = max(1.0, self.options.roi_min_face / size)
        win = frame[y0:y1, x0:x1]
        if up > 1.0:
            win = cv2.resize(win, (round(win.shape[1] * up), round(win.shape[0] * up)))
        self.detector_calls += 1
        cands = self.detector.detect(np.ascontiguousarray(win))
        best, best_d = None, 0.75  # centre within 0.75 box sizes of the guess
        gx, gy = guess.center
        for c in cands:
            box = c.mapped(1.0 / up, 1.0 / up, x0, y0)
            cx, cy = box.center
            d = float(np.hypot(cx - gx, cy - gy)) / size
            if d < best_d:
                best, best_d = box.with_track(guess.track_id), d
        return best


def _cut_by_window(b: FaceBox, win: Rect, width: int, height: int, edge: float = 2.0) -> bool:
    """Whether a detection (window pixels) touches a window side that is not the frame's edge.

    A face cut by a motion window is only part of a face (a moving mouth, say): YuNet may still
    fire on it, and painting that box puts a face on half a face. The whole face is found by the
    live-track window search or the next full sweep.
    """
    x0, y0, x1, y1 = win
    return (
        (b.x0 <= edge and x0 > 0)
        or (b.y0 <= edge and y0 > 0)
        or (b.x1 >= x1 - x0 - edge and x1 < width)
        or (b.y1 >= y1 - y0 - edge and y1 < height)
    )


def _emit(
    done: list[tuple[_Pending, list[FaceBox]]], tb: object
) -> tuple[FrameBatch, list[list[FaceBox]]]:
    frames = np.stack([item.frame for item, _ in done])
    indices = np.array([item.index for item, _ in done], dtype=np.int64)
    pts = np.array([item.pts for item, _ in done], dtype=np.int64)
    batch = FrameBatch(frames=frames, indices=indices, pts=pts, time_base=tb)  # type: ignore[arg-type]
    return batch, [boxes for _, boxes in done]
