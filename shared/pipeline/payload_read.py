"""Read the identity payload of every track of a received clip (first pass of payload restoration).

Boxes come from the clip's manifest when it has one, else from the face stage run again on the
received clip (the lattice is anchored to the frame, so re-detected boxes read as well as the
manifest's: docs/PAYLOAD.md). The reader wants the decoder's own luma samples, not RGB: a second
decoder runs in step with the RGB one when faces must be re-detected.
Memory: one ``TrackReader`` per track (bounded, see ``shared.payload.extract``) and, without a
manifest, the re-detected boxes (as small as the manifest's runs would be).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from shared.domain.errors import BadInputError, TamperedError, WrongKeyError
from shared.payload.carrier import (
    PayloadFormat,
    PayloadUnreadableError,
    RecoveredCode,
    read_codeword,
)
from shared.payload.cipher import clip_ref
from shared.payload.extract import SoftBits, TrackReader
from shared.payload.llr_model import LlrModel
from shared.pipeline.manifest import FaceRecord
from shared.pipeline.stages import from_record
from shared.pipeline.types import Progress
from shared.video.ahead import detect_ahead, face_stream
from shared.video.decode import iter_frames
from shared.video.faces import FaceStageOptions
from shared.video.types import FaceBox, Limits, VideoInfo

MIN_FRAMES = 8  # a re-detected track shorter than one segment cannot carry a readable payload


@dataclass
class ReadTrack:
    """One track as received: its reader, frames, and (re-detected) boxes for the second pass."""

    reader: TrackReader
    first: int = -1
    last: int = -1
    frames: int = 0
    boxes: dict[int, FaceBox] = field(default_factory=dict)  # only when re-detected

    def observe(self, y: np.ndarray, index: int, box: FaceBox, keep: bool,
                scale: float = 1.0) -> None:  # fmt: skip
        """One frame of the track; ``y`` is the luma at ``scale`` times the clip's size."""
        self.reader.observe(y, index, (box.x0 * scale, box.y0 * scale, box.x1 * scale,
                                       box.y1 * scale))  # fmt: skip
        self.first = index if self.first < 0 else self.first
        self.last, self.frames = index, self.frames + 1
        if keep:
            self.boxes[index] = box


@dataclass(frozen=True)
class ReadOptions:
    """What the first pass needs besides the clip."""

    fmt: PayloadFormat = field(default_factory=PayloadFormat)
    model: LlrModel | None = None  # None: the analytic weights
    limits: Limits = field(default_factory=Limits)
    batch_frames: int = 8
    detector: str = "yunet"
    keep_evidence: bool = False  # keep every observation (evaluation's bit error rates)


def iter_luma(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The decoded luma plane of every frame, float32 [H,W] at ``size`` (w, h): the decoder's own
    samples (swscale only converts other pixel formats or sizes, never through RGB)."""
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            y = frame.to_ndarray(format="yuv420p")[: frame.height].astype(np.float32)
            if (frame.width, frame.height) != size:
                y = np.asarray(cv2.resize(y, size, interpolation=cv2.INTER_CUBIC), np.float32)
            yield y


def _reader(opts: ReadOptions) -> TrackReader:
    return TrackReader(
        opts.fmt.bits, opts.fmt.channel, opts.model, keep_evidence=opts.keep_evidence
    )


def read_with_manifest(src: Path, info: VideoInfo, faces: dict[int, list[FaceRecord]],
                       opts: ReadOptions, progress: Progress | None = None) -> dict[int, ReadTrack]:  # fmt: skip
    """Every track of ``faces`` (frame -> records) read at the manifest's boxes."""
    tracks: dict[int, ReadTrack] = {}
    for index, y in enumerate(iter_luma(src, (info.width, info.height))):
        for rec in faces.get(index, ()):
            track = tracks.setdefault(rec.track_id, ReadTrack(_reader(opts)))
            track.observe(y, index, from_record(rec), keep=False)
        if progress is not None and index % 16 == 0:
            progress(index / max(info.frames, 1))
    return tracks


def read_redetected(src: Path, info: VideoInfo, opts: ReadOptions,
                    progress: Progress | None = None, scale: float = 1.0) -> dict[int, ReadTrack]:  # fmt: skip
    """Every face track found again on the received clip (ids are the re-detection's own), read
    at ``scale`` times its size (2: a clip a third party shrank to half size; boxes stay at the
    received clip's size, for painting)."""
    luma = iter_luma(src, (round(info.width * scale), round(info.height * scale)))
    tracks: dict[int, ReadTrack] = {}
    batches = iter_frames(src, opts.batch_frames, info, opts.limits)
    with ExitStack() as stack:  # detection ahead, beside the readers' projections
        found = face_stream(stack, opts.detector, FaceStageOptions(), batches,
                            detect_ahead(None, info))  # fmt: skip
        for batch, boxes in found:
            for index, frame_boxes in zip(batch.indices.tolist(), boxes, strict=True):
                y = next(luma)
                for box in frame_boxes:
                    track = tracks.setdefault(box.track_id, ReadTrack(_reader(opts)))
                    track.observe(y, index, box, keep=True, scale=scale)
            if progress is not None:
                progress(int(batch.indices[-1]) / max(info.frames, 1))
    return tracks


@dataclass(frozen=True)
class Decoded:
    """What one received track gave: its code, or why not (and whether the key was refused)."""

    code: RecoveredCode | None
    reason: str = ""
    refused: bool = False  # authentication or key id refused it: a wrong key
    soft: SoftBits | None = None


def decode_track(track: ReadTrack, secret: bytes, key_id: str, fmt: PayloadFormat,
                 expect: tuple[str, int] | None = None) -> Decoded:  # fmt: skip
    """Correct, authenticate and decrypt one track's payload; ``expect`` = (clip id, track id) the
    manifest says it must carry (a payload copied from another clip or track is refused)."""
    soft = track.reader.read()
    try:
        code = read_codeword(soft, secret, key_id, fmt)
    except PayloadUnreadableError as err:
        return Decoded(None, str(err), soft=soft)
    except (WrongKeyError, TamperedError) as err:
        return Decoded(None, str(err), refused=True, soft=soft)
    except BadInputError as err:
        return Decoded(None, str(err), soft=soft)
    if expect is not None:
        clip_id, track_id = expect
        if code.header.clip_ref != clip_ref(clip_id) or code.header.track_id != track_id:
            return Decoded(None, "its payload belongs to another clip or track", soft=soft)
    return Decoded(code, soft=soft)
