"""The public side of the identity payload: each confirmed track's face, coded and sealed, marked
into the pixels of the public clip after the painter (format and limits: docs/PAYLOAD.md).

Per batch: the original face squares of tracks without a code are kept before the painter
overwrites them; after it, a track the painter gave a donor for the first time gets its code from
the best of its donor-painted faces in this batch (highest detector score, then largest), so the
code is fixed before the track's first marked frame is written and memory holds one batch. Then
every donor-painted face is marked with its track's codeword (``PayloadEmbedder``). Blurred faces
(not confirmed) and the crop model's faces carry nothing: the crop model restores by itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.payload.carrier import PayloadFormat, TrackIdentity, track_codeword
from shared.payload.cipher import PAYLOAD_VERSION
from shared.payload.code import face_square
from shared.payload.embed import PayloadEmbedder
from shared.pipeline.manifest import PayloadInfo
from shared.video.types import FaceBox

CARRIER_KIND = "donor"  # the painter's kind of face that carries a code


class PaintLog:
    """What cover the painter gave each face, read from its ``stats.events`` batch by batch.

    The painter records events only when its list is set; a list somebody else set (evaluation)
    is read from an offset and left alone, our own is emptied after each batch.
    """

    def __init__(self, painter: Any) -> None:
        stats = getattr(painter, "stats", None)
        self._events: list[Any] | None = None
        self._own = False
        if stats is not None and hasattr(stats, "events"):
            if stats.events is None:
                stats.events, self._own = [], True
            self._events = stats.events
        self._seen = len(self._events) if self._events is not None else 0

    def take(self) -> dict[tuple[int, int], str]:
        """{(frame index, track id): kind} of the faces painted since the last call."""
        if self._events is None:
            return {}
        new = {(e.frame, e.track_id): e.kind for e in self._events[self._seen :]}
        if self._own:
            self._events.clear()
        self._seen = len(self._events)
        return new


@dataclass
class PayloadStats:
    """What the payload stage did over a clip."""

    tracks: list[int] = field(default_factory=list)  # tracks given a code, in order
    faces: int = 0  # faces marked
    seconds: float = 0.0  # CPU time of coding and marking

    @property
    def ms_per_face(self) -> float:
        """Added CPU time per marked face (coding included)."""
        return 1000.0 * self.seconds / max(self.faces, 1)


class PayloadStage:
    """Codes and marks the confirmed tracks of one clip (``before``/``after`` around the painter)."""

    def __init__(self, secret: bytes, key_id: str, clip_id: str, painter: Any,
                 fmt: PayloadFormat | None = None) -> None:  # fmt: skip
        self.fmt = fmt or PayloadFormat()
        self.secret, self.key_id, self.clip_id = secret, key_id, clip_id
        self.embedder = PayloadEmbedder(self.fmt.channel)
        self.stats = PayloadStats()
        self._log = PaintLog(painter)
        self._originals: dict[int, list[tuple[int, FaceBox, np.ndarray]]] = {}

    def before(self, frames: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        """Keep the original face squares of tracks without a code (uint8 [B,H,W,3] frames)."""
        self._originals = {}
        for pos, frame_boxes in enumerate(boxes):
            for box in frame_boxes:
                if not self.embedder.has_codeword(box.track_id):
                    square = face_square(frames[pos], box.corners, self.fmt.code.margin)
                    self._originals.setdefault(box.track_id, []).append((pos, box, square))

    def after(self, frames: np.ndarray, indices: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        """Code the tracks confirmed in this batch, then mark every donor-painted face in place."""
        t0 = time.process_time()
        kinds = self._log.take()
        for tid, seen in self._originals.items():
            donor = [o for o in seen if kinds.get((int(indices[o[0]]), tid)) == CARRIER_KIND]
            if donor:
                self._code(tid, max(donor, key=lambda o: (o[1].score, o[1].width * o[1].height)))
        self._originals = {}
        for pos, frame_boxes in enumerate(boxes):
            index = int(indices[pos])
            faces = [
                (b.track_id, b.corners)
                for b in frame_boxes
                if kinds.get((index, b.track_id)) == CARRIER_KIND
                and self.embedder.has_codeword(b.track_id)
            ]
            if faces:
                self.embedder.mark(frames[pos], index, faces)
                self.stats.faces += len(faces)
        self.stats.seconds += time.process_time() - t0

    def _code(self, track_id: int, chosen: tuple[int, FaceBox, np.ndarray]) -> None:
        who = TrackIdentity(self.key_id, self.clip_id, track_id)
        self.embedder.set_codeword(track_id, track_codeword(self.secret, who, chosen[2], self.fmt))
        self.stats.tracks.append(track_id)

    def info(self) -> PayloadInfo:
        """What the manifest says about the payload."""
        return PayloadInfo(PAYLOAD_VERSION, self.fmt.bits, tuple(sorted(self.stats.tracks)))
