"""Is a clip a public clip of this product that lost its manifest? ``deid`` refuses to mark it twice.

A clip that still carries the manifest box is refused by ``probe.refuse_deidentified``. A third
party's re-encode has lost the box, but its faces still carry the identity payload; de-identifying
it again would paint new surrogates over the old ones and mark the old surrogates' faces over that
payload: nobody could restore the people in it any more. The probe runs the keyless part of the
payload reader on the face tracks of the first ``PROBE_FRAMES`` frames: it sees whether the faces
carry the watermark's lattice (about 0 on unmarked faces), not what the payload says. Scores
measured on real clips are in docs/PAYLOAD.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import takewhile
from pathlib import Path

import numpy as np

from shared.payload.carrier import PayloadFormat
from shared.payload.extract import TrackReader
from shared.pipeline.payload_read import iter_luma
from shared.video.decode import iter_frames
from shared.video.detect import make_detector
from shared.video.faces import FaceStage, FaceStageOptions
from shared.video.types import FrameBatch, Limits, VideoInfo

Box = tuple[float, float, float, float]
Observed = tuple[np.ndarray, int, list[tuple[int, Box]]]  # luma, frame index, (track id, box)

PROBE_FRAMES = 48  # about two seconds of video: six of the payload's 8-frame segments
MARK_SCORE = 0.12  # lattice score of the probe above which the faces are marked (see PAYLOAD.md)


def why_marked(src: Path, info: VideoInfo, limits: Limits, detector: str = "yunet") -> str | None:
    """One line saying why ``src`` is a public clip of this product without its manifest, or None."""
    score = lattice_score(src, info, limits, detector)
    if score < MARK_SCORE:
        return None
    return (
        f"its faces carry a UU-Net identity payload (lattice score {score:.2f}): it is a "
        "de-identified public clip that lost its manifest (re-encoded)"
    )


def lattice_score(src: Path, info: VideoInfo, limits: Limits, detector: str = "yunet") -> float:
    """The highest payload lattice score among the face tracks of the first ``PROBE_FRAMES``
    frames (0.0 when no face is there)."""
    stage = FaceStage(make_detector(detector), FaceStageOptions())
    luma = iter_luma(src, (info.width, info.height))

    def observed() -> Iterator[Observed]:
        for batch, boxes in stage.run(_first(iter_frames(src, 8, info, limits))):
            for index, frame_boxes in zip(batch.indices.tolist(), boxes, strict=True):
                yield (
                    next(luma),
                    index,
                    [(b.track_id, (b.x0, b.y0, b.x1, b.y1)) for b in frame_boxes],
                )

    return tracks_lattice_score(observed())


def tracks_lattice_score(frames: Iterable[Observed]) -> float:
    """The highest lattice score among the tracks of ``frames`` (decoded luma, frame index, and
    (track id, box) of each face), 0.0 when no track locked onto a lattice."""
    fmt = PayloadFormat()
    readers: dict[int, TrackReader] = {}
    for y, index, faces in frames:
        for track_id, box in faces:
            reader = readers.setdefault(
                track_id, TrackReader(fmt.bits, fmt.channel, keep_evidence=False)
            )
            reader.observe(y, index, box)
    scores = [soft.score for r in readers.values() if (soft := r.read()) is not None]
    return max(scores, default=0.0)


def _first(batches: Iterator[FrameBatch]) -> Iterator[FrameBatch]:
    return takewhile(lambda b: int(b.indices[0]) < PROBE_FRAMES, batches)
