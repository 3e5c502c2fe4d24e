"""Is a clip a public clip of this product that lost its manifest? ``deid`` refuses to mark it twice.

A clip that still carries the manifest box is refused by ``probe.refuse_deidentified``. A third
party's re-encode has lost the box, but its faces still carry the identity payload; de-identifying
it again would paint new surrogates over the old ones and mark the old surrogates' faces over that
payload: nobody could restore the people in it any more. The probe runs the keyless part of the
payload reader on the face tracks of the first ``PROBE_FRAMES`` frames, inside the de-identification
pass (the faces it already detects, on the decoder's own luma of those frames, which a second
decoder gives for the first frames only; a separate decode and detection pass cost 3.5 s on a
150-frame 720p clip of 10 faces): it sees whether the faces
carry the watermark's lattice on its segment clock, not what the payload says. It judges the
clock's contrast (how far the best of ~2,000 clocks stands out of them), not the lattice score
itself: codec block artefacts and short tracks of small faces reach lattice scores of 0.3-0.9 on
unmarked surveillance video (opencv's vtest.avi) by chance, but no clock that stands out. Figures
measured on real clips are in docs/PAYLOAD.md.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from shared.payload.carrier import PayloadFormat
from shared.payload.extract import TrackReader
from shared.payload.lattice import smooth
from shared.video.planes import NativeFrames
from shared.video.types import Corners, FaceBox

Box = Corners

PROBE_FRAMES = 48  # about two seconds of video: six of the payload's 8-frame segments
MARK_CONTRAST = 10.0  # clock contrast from which a track is marked (chance: <= ~4.5; PAYLOAD.md)


class MarkProbe:
    """Watches the face tracks of a clip's first ``PROBE_FRAMES`` frames for the payload's clock.

    With ``src``, ``observe`` reads the luma of each observed frame from the clip's own decoder
    (the RGB frames of the pipeline are swscale's conversion, whose luma is biased by ~1 level:
    enough to hide the clock); call ``close`` when done."""

    def __init__(self, src: Path | None = None, size: tuple[int, int] = (0, 0)) -> None:
        fmt = PayloadFormat()
        self._bits, self._blur = fmt.bits, fmt.channel.blur
        # Each frame's luma is smoothed once here, not once per face by each track's reader.
        self._channel = replace(fmt.channel, blur=0.0)
        self._readers: dict[int, TrackReader] = {}
        self._native = NativeFrames(src, *size) if src is not None else None

    def close(self) -> None:
        """Close the clip's decoder (again: nothing)."""
        if self._native is not None:
            self._native.close()
            self._native = None

    def observe(self, indices: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        """The tracked faces of a batch of frames of ``src``, in order."""
        assert self._native is not None, "observe needs the clip (src)"
        for index, faces in zip(indices.tolist(), boxes, strict=True):
            if index >= PROBE_FRAMES or not faces:
                continue
            native = self._native.at(index)
            if native is not None:  # None: not 4:2:0 at the clip's size, which no public clip is
                tracked = [(b.track_id, b.corners) for b in faces]
                self.observe_luma(native.y.astype(np.float32), index, tracked)

    def observe_luma(self, y: np.ndarray, index: int, faces: list[tuple[int, Box]]) -> None:
        """One frame's luma [H,W] (limited range) and its faces as (track id, box)."""
        if index >= PROBE_FRAMES or not faces:
            return
        y = smooth(y, self._blur)
        for track_id, box in faces:
            reader = self._readers.get(track_id)
            if reader is None:
                reader = self._readers[track_id] = TrackReader(
                    self._bits, self._channel, keep_evidence=False
                )
            reader.observe(y, index, box)

    def contrast(self) -> float:
        """The highest clock contrast among the tracks seen, 0.0 when none locked onto a clock."""
        scores = [soft.contrast for r in self._readers.values() if (soft := r.read()) is not None]
        return max(scores, default=0.0)

    def why_marked(self) -> str | None:
        """One line saying why the clip is a public clip of this product without its manifest,
        or None."""
        contrast = self.contrast()
        if contrast < MARK_CONTRAST:
            return None
        return (
            f"its faces carry a UU-Net identity payload (its clock stands {contrast:.0f} standard "
            "deviations out): it is a de-identified public clip that lost its manifest (re-encoded)"
        )
