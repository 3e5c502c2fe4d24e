"""Is a clip a public clip of this product that lost its manifest? ``deid`` refuses to mark it twice.

A clip that still carries the manifest box is refused by ``probe.refuse_deidentified``. A third
party's re-encode has lost the box, but its faces still carry the identity payload; de-identifying
it again would paint new surrogates over the old ones and mark the old surrogates' faces over that
payload: nobody could restore the people in it any more. The probe runs the keyless part of the
payload reader on the face tracks of the first ``PROBE_FRAMES`` frames: it sees whether the faces
carry the watermark's lattice on its segment clock, not what the payload says. It judges the
clock's contrast (how far the best of ~2,000 clocks stands out of them), not the lattice score
itself: codec block artefacts and short tracks of small faces reach lattice scores of 0.3-0.9 on
unmarked surveillance video (opencv's vtest.avi) by chance, but no clock that stands out. Figures
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
MARK_CONTRAST = 10.0  # clock contrast from which a track is marked (chance: <= ~4.5; PAYLOAD.md)


def why_marked(src: Path, info: VideoInfo, limits: Limits, detector: str = "yunet") -> str | None:
    """One line saying why ``src`` is a public clip of this product without its manifest, or None."""
    contrast = clock_contrast(src, info, limits, detector)
    if contrast < MARK_CONTRAST:
        return None
    return (
        f"its faces carry a UU-Net identity payload (its clock stands {contrast:.0f} standard "
        "deviations out): it is a de-identified public clip that lost its manifest (re-encoded)"
    )


def clock_contrast(src: Path, info: VideoInfo, limits: Limits, detector: str = "yunet") -> float:
    """The highest payload clock contrast among the face tracks of the first ``PROBE_FRAMES``
    frames (0.0 when no face is there, or the frames have odd sizes: no public clip has)."""
    if info.width % 2 or info.height % 2:
        return 0.0
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

    return tracks_contrast(observed())


def tracks_contrast(frames: Iterable[Observed]) -> float:
    """The highest clock contrast among the tracks of ``frames`` (decoded luma, frame index, and
    (track id, box) of each face), 0.0 when no track locked onto a clock."""
    fmt = PayloadFormat()
    readers: dict[int, TrackReader] = {}
    for y, index, faces in frames:
        for track_id, box in faces:
            reader = readers.setdefault(
                track_id, TrackReader(fmt.bits, fmt.channel, keep_evidence=False)
            )
            reader.observe(y, index, box)
    scores = [soft.contrast for r in readers.values() if (soft := r.read()) is not None]
    return max(scores, default=0.0)


def _first(batches: Iterator[FrameBatch]) -> Iterator[FrameBatch]:
    return takewhile(lambda b: int(b.indices[0]) < PROBE_FRAMES, batches)
