"""In-memory H.264 encodes and third-party transcodes, for the payload's robustness figures.

``encode_rgb`` encodes RGB frames the way the product's writer does (OpenCV's BT.601 RGB->I420, then
libx264); ``transcode`` re-encodes an MP4 the way a platform or a third party would (decode to
YUV, optionally rescale or drop the first frames, libx264 ``medium``), never through RGB;
``decode_luma`` gives the decoded luma planes a payload reader works on.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np

from shared.domain.errors import BadInputError


@dataclass(frozen=True)
class Transcode:
    """One re-encode: quality, preset, size factor (1: same size), frames dropped from the start."""

    crf: int = 23
    preset: str = "medium"
    scale: float = 1.0
    start: int = 0


def _write(frames: Iterable[av.VideoFrame], width: int, height: int, crf: int, preset: str,
           fps: int) -> bytes:  # fmt: skip
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for i, frame in enumerate(frames):
            frame.pts, frame.time_base = i, Fraction(1, fps)  # constant rate, as the product writes
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def encode_rgb(
    frames: list[np.ndarray], crf: int = 23, preset: str = "veryfast", fps: int = 25
) -> bytes:
    """RGB uint8 frames (even sizes) -> MP4 bytes, converted as the product's writer converts."""
    if not frames:
        raise BadInputError("nothing to encode")
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise BadInputError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    return _write((_i420(f) for f in frames), w, h, crf, preset, fps)


def _i420(rgb: np.ndarray) -> av.VideoFrame:
    """OpenCV's BT.601 RGB->I420, as ``shared.video.encode.VideoWriter`` converts."""
    planar: np.ndarray = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    return av.VideoFrame.from_ndarray(planar, format="yuv420p")


def _frames(mp4: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(mp4), mode="r") as inp:
        return list(inp.decode(video=0))


def transcode(mp4: bytes, how: Transcode, fps: int = 25) -> bytes:
    """Re-encode an MP4 (YUV in, YUV out): rescaled by ``how.scale``, from frame ``how.start``."""
    frames = _frames(mp4)[how.start :]
    if not frames:
        raise BadInputError("the cut leaves no frame")
    w = max(2, round(frames[0].width * how.scale / 2) * 2)
    h = max(2, round(frames[0].height * how.scale / 2) * 2)
    if how.scale != 1.0:
        frames = [f.reformat(width=w, height=h, interpolation="BICUBIC") for f in frames]
    return _write(frames, w, h, how.crf, how.preset, fps)


def decode_luma(mp4: bytes, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The decoded luma planes float32 [H,W] (limited range), rescaled to ``size`` (w, h) if given."""
    planes = []
    for frame in _frames(mp4):
        if size is not None and (frame.width, frame.height) != size:
            frame = frame.reformat(width=size[0], height=size[1], interpolation="BICUBIC")
        planes.append(frame.to_ndarray(format="yuv420p")[: frame.height].astype(np.float32))
    return planes
