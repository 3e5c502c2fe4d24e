"""Typed values that flow between the video stages: boxes, tracks, clip info, frame batches, limits."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Limits:
    """Input limits a clip must respect; anything over raises LimitExceededError."""

    max_bytes: int = 2_000_000_000
    max_width: int = 4096
    max_height: int = 4096
    max_duration_s: float = 3600.0
    max_frames: int = 200_000
    max_fps: float = 1000.0  # a header claiming more is damaged or hostile (bad-input corpus)


Landmarks = tuple[float, ...]  # 10 floats: x, y of 5 points in frame pixels (see FaceBox)
Corners = tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels


def box_iou(a: Corners, b: Corners) -> float:
    """Intersection over union of two corner boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class FaceBox:
    """One face in one frame: corners in pixels of the decoded frame, detector score, track id.

    ``landmarks`` (when the detector gives them): the 5 points eye, eye, nose tip, mouth corner,
    mouth corner, each pair ordered image-left then image-right, as x0, y0, x1, y1, ... in pixels.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    track_id: int = -1
    landmarks: Landmarks | None = None

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.y1 - self.y0

    @property
    def corners(self) -> Corners:
        """(x0, y0, x1, y1)."""
        return self.x0, self.y0, self.x1, self.y1

    @property
    def center(self) -> tuple[float, float]:
        """Box centre (x, y) in pixels."""
        return (self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0

    def with_track(self, track_id: int) -> FaceBox:
        """Copy of this box carrying ``track_id``."""
        return replace(self, track_id=track_id)

    def mapped(self, sx: float, sy: float, dx: float = 0.0, dy: float = 0.0) -> FaceBox:
        """Box and landmarks scaled by (sx, sy) then shifted by (dx, dy): window -> frame pixels."""
        lm = None
        if self.landmarks is not None:
            lm = tuple(v * (sx if i % 2 == 0 else sy) + (dx if i % 2 == 0 else dy)
                       for i, v in enumerate(self.landmarks))  # fmt: skip
        return FaceBox(self.x0 * sx + dx, self.y0 * sy + dy, self.x1 * sx + dx,
                       self.y1 * sy + dy, self.score, self.track_id, lm)  # fmt: skip

    def lerp(self, other: FaceBox, t: float) -> FaceBox:
        """The box a fraction ``t`` of the way to ``other`` (landmarks too when both have them)."""
        a, b = np.array(self.corners_and_points()), np.array(other.corners_and_points())
        if len(a) != len(b):  # one side has no landmarks: interpolate the box only
            a, b = a[:4], b[:4]
        v = ((1.0 - t) * a + t * b).tolist()
        lm = tuple(v[4:]) if len(v) > 4 else None
        score = min(self.score, other.score)
        return FaceBox(v[0], v[1], v[2], v[3], score, self.track_id, lm)

    def corners_and_points(self) -> tuple[float, ...]:
        """x0, y0, x1, y1 followed by the landmarks when present."""
        return (self.x0, self.y0, self.x1, self.y1, *(self.landmarks or ()))

    def to_dict(self) -> dict[str, Any]:
        """Compact JSON-able form for the manifest (coordinates rounded to 0.01 px)."""
        return {
            "box": [round(self.x0, 2), round(self.y0, 2), round(self.x1, 2), round(self.y1, 2)],
            "score": round(float(self.score), 4),
            "track": int(self.track_id),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceBox:
        """Inverse of :meth:`to_dict`."""
        x0, y0, x1, y1 = (float(v) for v in data["box"])
        return cls(x0, y0, x1, y1, float(data.get("score", 1.0)), int(data.get("track", -1)))


@dataclass(frozen=True)
class Track:
    """A subject followed through a clip: id, first and last frame index, number of boxes."""

    track_id: int
    first_frame: int
    last_frame: int
    n_boxes: int

    def to_dict(self) -> dict[str, int]:
        """JSON-able form for the manifest."""
        return {
            "track": self.track_id,
            "first": self.first_frame,
            "last": self.last_frame,
            "boxes": self.n_boxes,
        }


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learns about a clip's video stream (and whether it has audio)."""

    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frames: int  # exact when the container knows it, else estimated from duration * fps
    duration_s: float
    codec: str
    pix_fmt: str
    has_audio: bool
    rotation: int = 0  # degrees, from the display matrix; frames are decoded un-rotated
    frames_exact: bool = True
    container: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (fractions as strings) for manifests and reports."""
        return {
            "width": self.width,
            "height": self.height,
            "fps": str(self.fps),
            "time_base": str(self.time_base),
            "frames": self.frames,
            "duration_s": round(self.duration_s, 6),
            "codec": self.codec,
            "pix_fmt": self.pix_fmt,
            "has_audio": self.has_audio,
            "rotation": self.rotation,
        }


@dataclass(frozen=True)
class EncodeOptions:
    """H.264 encoder settings; the benchmark's plain transcode uses the same ones."""

    crf: int = 20
    lossless: bool = False  # RGB exactly: H.264 High 4:4:4 Predictive at qp 0 (crf is ignored)
    preset: str = "veryfast"
    keep_audio: bool = False
    audio_bitrate: int = 128_000
    threads: int = 0  # 0: let x264 choose
    background: bool = (
        True  # encode on a worker thread, overlapping the face work of the next batch
    )
    metadata: dict[str, str] = field(default_factory=dict)  # container tags (e.g. a manifest)


@dataclass
class FrameBatch:
    """A run of consecutive decoded frames: RGB uint8 [B,H,W,3], their indices and pts."""

    frames: np.ndarray  # uint8 [B, H, W, 3], RGB
    indices: np.ndarray  # int64 [B], 0-based frame index in presentation order
    pts: np.ndarray  # int64 [B], presentation timestamps in ``time_base`` units (-1 if unknown)
    time_base: Fraction

    def __len__(self) -> int:
        return int(self.frames.shape[0])
