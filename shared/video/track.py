"""Track stage: associates detections over time and gives each subject a stable integer id."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.video.types import FaceBox, Track


@dataclass(frozen=True)
class TrackerOptions:
    """Association thresholds; ``max_gap`` frames without a detection ends a track."""

    min_iou: float = 0.2
    max_center_dist: float = 2.0  # in units of the track's box size, for small fast faces
    max_gap: int = 30
    velocity_smoothing: float = 0.5


@dataclass
class _State:
    track_id: int
    box: np.ndarray  # float64 [4] x0,y0,x1,y1 at ``frame``
    frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # per frame
    first: int = 0
    n_boxes: int = 1
    score: float = 1.0

    def predict(self, frame: int) -> np.ndarray:
        return self.box + self.velocity * (frame - self.frame)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of corner boxes a [N,4] and b [M,4] -> [N,M]."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9))


def _affinity(pred: np.ndarray, det: np.ndarray, opts: TrackerOptions) -> np.ndarray:
    """IoU where boxes overlap, else a small score for near centres (fast or tiny faces)."""
    iou = iou_matrix(pred, det)
    cp = (pred[:, None, :2] + pred[:, None, 2:]) / 2
    cd = (det[None, :, :2] + det[None, :, 2:]) / 2
    size = np.maximum(pred[:, None, 2] - pred[:, None, 0], pred[:, None, 3] - pred[:, None, 1])
    dist = np.linalg.norm(cp - cd, axis=2) / np.maximum(size, 1.0)
    near = np.where(dist < opts.max_center_dist, 0.01 * (1.0 - dist / opts.max_center_dist), 0.0)
    return np.where(iou >= opts.min_iou, iou, near)


class IouTracker:
    """Greedy IoU tracker with a constant-velocity prediction; ids start at 1 and are never reused."""

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._live: list[_State] = []
        self._done: list[_State] = []
        self._next_id = 1

    def update(self, frame: int, detections: list[FaceBox]) -> list[FaceBox]:
        """Associate ``detections`` of ``frame`` with live tracks; returns them with track ids."""
        self._expire(frame)
        det = np.array([[d.x0, d.y0, d.x1, d.y1] for d in detections], dtype=np.float64)
        assigned: list[int] = [-1] * len(detections)
        if self._live and len(detections):
            pred = np.stack([s.predict(frame) for s in self._live])
            aff = _affinity(pred, det.reshape(-1, 4), self.options)
            for ti, di in _greedy(aff):
                self._advance(self._live[ti], det[di], frame, detections[di].score)
                assigned[di] = self._live[ti].track_id
        for di, tid in enumerate(assigned):
            if tid < 0:
                assigned[di] = self._start(det[di], frame, detections[di].score)
        return [d.with_track(t) for d, t in zip(detections, assigned, strict=True)]

    def _advance(self, state: _State, box: np.ndarray, frame: int, score: float) -> None:
        dt = max(frame - state.frame, 1)
        alpha = self.options.velocity_smoothing
        state.velocity = alpha * (box - state.box) / dt + (1 - alpha) * state.velocity
        state.box, state.frame, state.score = box, frame, score
        state.n_boxes += 1

    def _start(self, box: np.ndarray, frame: int, score: float) -> int:
        state = _State(self._next_id, box, frame, first=frame, score=score)
        self._next_id += 1
        self._live.append(state)
        return state.track_id

    def _expire(self, frame: int) -> None:
        keep: list[_State] = []
        for s in self._live:
            (keep if frame - s.frame <= self.options.max_gap else self._done).append(s)
        self._live = keep

    def end_all(self) -> None:
        """End every live track (a scene cut): the next detections start new tracks."""
        self._done += self._live
        self._live = []

    def live_boxes(self, frame: int) -> dict[int, FaceBox]:
        """Predicted boxes of the live tracks at ``frame``, by track id."""
        out = {}
        for s in self._live:
            x0, y0, x1, y1 = s.predict(frame).tolist()
            out[s.track_id] = FaceBox(x0, y0, x1, y1, s.score, s.track_id)
        return out

    def tracks(self) -> list[Track]:
        """Every track seen so far (ended and live), ordered by id."""
        states = sorted(self._done + self._live, key=lambda s: s.track_id)
        return [Track(s.track_id, s.first, s.frame, s.n_boxes) for s in states]


def _greedy(aff: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, col) by decreasing positive affinity, each row and col used once."""
    pairs = []
    rows, cols = np.nonzero(aff > 0)
    order = np.argsort(-aff[rows, cols])
    used_r: set[int] = set()
    used_c: set[int] = set()
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs
