"""Decode stage: validate a clip (``probe``) and stream its frames as RGB batches (``iter_frames``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from shared.domain.errors import BadInputError, LimitExceededError
from shared.video.types import FrameBatch, Limits, VideoInfo

log = logging.getLogger(__name__)

# Demuxers that read still images: a "video" they produce is a picture, not a clip.
_IMAGE_FORMATS = ("image2", "_pipe", "apng", "webp", "ico", "bmp", "tiff", "jpegxl", "png")
_IMAGE_CODECS = {"png", "mjpeg", "bmp", "tiff", "webp", "gif", "jpeg2000", "jpegls", "ppm", "pgm"}
# A clip may decode a couple of frames fewer than its header says (edit lists); more is truncation.
_TRUNCATION_SLACK = 2


def _short(err: BaseException) -> str:
    """First line of an error message, trimmed, without file paths: the user sees one line."""
    strerror = getattr(err, "strerror", None)  # FFmpegError: the reason without the path
    raw = str(strerror) if isinstance(err, av.FFmpegError) and strerror else str(err)
    text = raw.strip().splitlines()[0] if raw.strip() else type(err).__name__
    return text[:160]


def _open(path: Path) -> Any:
    """Open a container, turning every failure into BadInputError."""
    if not path.exists():
        raise BadInputError(f"{path.name}: file not found")
    if path.is_dir():
        raise BadInputError(f"{path.name}: is a directory, not a video file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path.name}: empty file (0 bytes)")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeError) as err:
        raise BadInputError(
            f"{path.name}: not a readable video: truncated, damaged or not a video file "
            f"({_short(err)})"
        ) from err


def _frame_rate(stream: Any) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        raise BadInputError("video stream has no frame rate")
    return Fraction(rate)


def _duration_s(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000.0
    return 0.0


def _first_frame(container: Any, stream: Any, name: str) -> Any:
    """Decode one frame: proves the codec is supported and the data is a picture."""
    try:
        for frame in container.decode(stream):
            return frame
    except (av.FFmpegError, ValueError, MemoryError) as err:
        raise BadInputError(
            f"{name}: cannot decode video: corrupt, truncated or unsupported codec ({_short(err)})"
        ) from err
    raise BadInputError(f"{name}: video stream has no decodable frame (truncated or empty)")


def _check_limits(info: VideoInfo, limits: Limits, name: str) -> None:
    if info.width > limits.max_width or info.height > limits.max_height:
        raise LimitExceededError(
            f"{name}: {info.width}x{info.height} is over the limit "
            f"{limits.max_width}x{limits.max_height}"
        )
    if info.duration_s > limits.max_duration_s:
        raise LimitExceededError(
            f"{name}: duration {info.duration_s:.1f} s is over the limit {limits.max_duration_s:g} s"
        )
    if info.frames > limits.max_frames:
        raise LimitExceededError(
            f"{name}: {info.frames} frames is over the limit {limits.max_frames}"
        )
    if info.fps > limits.max_fps:
        raise LimitExceededError(
            f"{name}: frame rate {float(info.fps):g} fps is over the limit {limits.max_fps:g} fps"
        )


def _video_stream(container: Any, name: str) -> Any:
    fmt = container.format.name or ""
    if any(tag in fmt for tag in _IMAGE_FORMATS):
        raise BadInputError(f"{name}: an image ({fmt}), not a video")
    if not container.streams.video:
        if container.streams.audio:
            raise BadInputError(f"{name}: audio only, no video stream")
        raise BadInputError(f"{name}: no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        raise BadInputError(f"{name}: unsupported video codec")
    return stream


def probe(path: Path | str, limits: Limits | None = None) -> VideoInfo:
    """Validate a clip and describe its video stream; BadInputError/LimitExceededError otherwise."""
    path, limits = Path(path), limits or Limits()
    name = path.name
    if path.exists() and path.is_file() and path.stat().st_size > limits.max_bytes:
        raise LimitExceededError(
            f"{name}: {path.stat().st_size} bytes is over the limit {limits.max_bytes}"
        )
    container = _open(path)
    try:
        stream = _video_stream(container, name)
        codec = stream.codec_context.name
        fps = _frame_rate(stream)
        duration = _duration_s(container, stream)
        exact = bool(stream.frames and stream.frames > 0)
        frames = int(stream.frames) if exact else round(duration * float(fps))
        first = _first_frame(container, stream, name)
        if codec in _IMAGE_CODECS and frames <= 1:
            raise BadInputError(f"{name}: a single image ({codec}), not a video")
        info = VideoInfo(
            width=int(first.width),
            height=int(first.height),
            fps=fps,
            time_base=Fraction(stream.time_base) if stream.time_base else 1 / fps,
            frames=max(frames, 1),
            duration_s=duration if duration > 0 else frames / float(fps),
            codec=codec,
            pix_fmt=str(first.format.name),
            has_audio=bool(container.streams.audio),
            rotation=int(getattr(first, "rotation", 0) or 0),
            frames_exact=exact,
            container=str(container.format.name),
        )
    finally:
        container.close()
    if info.width < 2 or info.height < 2:
        raise BadInputError(f"{name}: absurd frame size {info.width}x{info.height}")
    _check_limits(info, limits, name)
    return info


def iter_frames(
    path: Path | str, batch: int = 16, info: VideoInfo | None = None, limits: Limits | None = None
) -> Iterator[FrameBatch]:
    """Yield RGB uint8 batches [B,H,W,3] in presentation order; memory bounded by ``batch``."""
    path, limits = Path(path), limits or Limits()
    info = info or probe(path, limits)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads inside FFmpeg
        yield from _decode_batches(container, stream, info, batch, limits, path.name)
    finally:
        container.close()


def _decode_batches(
    container: Any, stream: Any, info: VideoInfo, batch: int, limits: Limits, name: str
) -> Iterator[FrameBatch]:
    h, w = info.height, info.width
    tb = Fraction(stream.time_base) if stream.time_base else info.time_base
    buf = np.empty((batch, h, w, 3), dtype=np.uint8)
    pts = np.full(batch, -1, dtype=np.int64)
    n, count = 0, 0
    try:
        for frame in container.decode(stream):
            if count >= limits.max_frames:
                raise LimitExceededError(f"{name}: more than {limits.max_frames} frames")
            if frame.width == w and frame.height == h:
                buf[n] = frame.to_ndarray(format="rgb24")
            else:  # mid-stream resolution change: keep one output size
                buf[n] = frame.to_ndarray(format="rgb24", width=w, height=h)
            pts[n] = frame.pts if frame.pts is not None else -1
            n, count = n + 1, count + 1
            if n == batch:
                yield _batch(buf, pts, count, n, tb)
                buf = np.empty_like(buf)  # the consumer may keep the last batch
                n = 0
    except (av.FFmpegError, ValueError, MemoryError) as err:
        raise BadInputError(f"{name}: decoding failed at frame {count} ({_short(err)})") from err
    if info.frames_exact and count + _TRUNCATION_SLACK < info.frames:
        raise BadInputError(f"{name}: truncated: decoded {count} of {info.frames} frames")
    if n:
        yield _batch(buf[:n], pts[:n], count, n, tb)


def _batch(buf: np.ndarray, pts: np.ndarray, count: int, n: int, tb: Fraction) -> FrameBatch:
    indices = np.arange(count - n, count, dtype=np.int64)
    return FrameBatch(frames=buf, indices=indices, pts=pts[:n].copy(), time_base=tb)
