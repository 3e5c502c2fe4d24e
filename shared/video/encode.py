"""Encode stage: browser-playable H.264 High / yuv420p MP4 (faststart), same frame count, rate, size.

``EncodeOptions.lossless`` writes H.264 High 4:4:4 Predictive at qp 0 over RGB instead (libx264rgb):
every decoded RGB pixel comes back exactly. It plays in VLC, mpv and ffplay, not in browsers. Why
this and not FFV1 in Matroska is measured in docs/PIPELINE.md.
"""

from __future__ import annotations

import logging
import queue
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np

from shared.domain.errors import BadInputError
from shared.video.audio import AudioCopier, AudioResult, open_copier
from shared.video.types import EncodeOptions, VideoInfo

log = logging.getLogger(__name__)
LOSSLESS_PRESET = "medium"  # lossless x264: medium is ~20 % smaller than veryfast at 720p
CRF_RANGE = (1, 51)


def check_crf(crf: int, option: str = "--crf") -> None:
    """BadInputError unless ``crf`` is a quality the yuv420p H.264 High encoder accepts."""
    if crf == 0:
        raise BadInputError(
            f"{option} 0 would be lossless, which H.264 High (yuv420p) cannot carry; "
            "use --lossless for an exact RGB copy"
        )
    if not CRF_RANGE[0] <= crf <= CRF_RANGE[1]:
        raise BadInputError(f"{option} must be within {CRF_RANGE[0]}..{CRF_RANGE[1]}")


def even_size(width: int, height: int) -> tuple[int, int]:
    """The coded size for yuv420p: H.264 4:2:0 crops only in 2-pixel units, so odd sizes round up."""
    return width + (width & 1), height + (height & 1)


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Replicate the last row/column so [B,H,W,3] has even H and W (yuv420p needs it)."""
    h, w = frames.shape[1:3]
    if not (h & 1 or w & 1):
        return frames
    return np.pad(frames, ((0, 0), (0, h & 1), (0, w & 1), (0, 0)), mode="edge")


class VideoWriter:
    """Writes RGB uint8 batches [B,H,W,3] to an H.264 MP4 at the source's rate and size."""

    def __init__(
        self,
        path: Path | str,
        info: VideoInfo,
        options: EncodeOptions | None = None,
        audio_source: Path | str | None = None,
    ) -> None:
        self.path, self.info = Path(path), info
        self.options = options or EncodeOptions()
        self.frames_written = 0
        self._encoded = 0
        self._rate = Fraction(info.fps)
        flags = "+faststart+use_metadata_tags" if self.options.metadata else "+faststart"
        self._out: Any = av.open(
            str(self.path), mode="w", format="mp4", options={"movflags": flags}
        )
        for key, value in self.options.metadata.items():
            self._out.metadata[key] = value
        self._stream = self._add_video_stream()
        # What became of the audio a caller asked for: read it after close().
        self.audio = AudioResult(requested=self.options.keep_audio, present=info.has_audio)
        self._audio: AudioCopier | None = None
        if self.options.keep_audio and audio_source is not None and info.has_audio:
            self._audio = open_copier(
                Path(audio_source), self._out, self.options.audio_bitrate, self.audio
            )
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._worker: threading.Thread | None = None
        if self.options.background:
            self._worker = threading.Thread(target=self._drain, name="uunet-encode", daemon=True)
            self._worker.start()

    def _add_video_stream(self) -> Any:
        if self.options.lossless:
            stream = self._out.add_stream("libx264rgb", rate=self._rate)
            stream.width, stream.height = self.info.width, self.info.height
            stream.pix_fmt = "rgb24"
            opts: dict[str, str] = {"qp": "0", "preset": LOSSLESS_PRESET}
        else:
            check_crf(self.options.crf, "crf")
            stream = self._out.add_stream("libx264", rate=self._rate)
            stream.width, stream.height = even_size(self.info.width, self.info.height)
            stream.pix_fmt = "yuv420p"
            opts = {"crf": str(self.options.crf), "preset": self.options.preset, "profile": "high"}
        stream.codec_context.time_base = 1 / self._rate
        if self.options.threads:
            opts["threads"] = str(self.options.threads)
        stream.options = opts
        if self.info.rotation:  # keep the source's display matrix: players rotate as before
            stream.set_display_rotation(self.info.rotation)
        return stream

    def write(self, frames: np.ndarray) -> None:
        """Queue a batch of RGB uint8 frames [B,H,W,3] for encoding; do not modify it afterwards."""
        if frames.ndim != 4 or frames.shape[1:] != (self.info.height, self.info.width, 3):
            raise BadInputError(
                f"frame batch shape {tuple(frames.shape)} does not match "
                f"{self.info.height}x{self.info.width}x3"
            )
        self._raise_worker_error()
        if self._worker is None:
            self._encode(frames)
            return
        self._queue.put(frames)
        self.frames_written += len(frames)

    def _drain(self) -> None:
        """Worker thread: encode queued batches until the None sentinel (FFmpeg drops the GIL)."""
        while (frames := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._encode(frames, count=False)
                except BaseException as err:  # re-raised on the caller's thread
                    self._error = err

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            if isinstance(err, av.FFmpegError):
                raise BadInputError(f"encoding failed: {err}") from err
            raise err

    def _frame(self, rgb: np.ndarray) -> av.VideoFrame:
        if self.options.lossless:
            return av.VideoFrame.from_ndarray(rgb.astype(np.uint8, copy=False), format="rgb24")
        # OpenCV's BT.601 RGB->I420 matches swscale's to within 1 level on average and costs a
        # tenth of PyAV's rgb24 frame + reformat (measured 0.6 vs 3.7 ms per 720p frame).
        i420: np.ndarray = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # [H*3/2, W] planar Y, U, V
        return av.VideoFrame.from_ndarray(i420, format="yuv420p")

    def _encode(self, frames: np.ndarray, count: bool = True) -> None:
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if not self.options.lossless:
            frames = _pad_even(frames)
        for rgb in frames:
            frame = self._frame(rgb)
            frame.pts = self._encoded  # constant frame rate, in 1/fps units
            frame.time_base = 1 / self._rate
            for packet in self._stream.encode(frame):
                self._out.mux(packet)
            self._encoded += 1
        if count:
            self.frames_written = self._encoded
        if self._audio is not None:
            self._audio.advance(self._encoded / float(self._rate))

    def close(self) -> None:
        """Flush encoders and finish the file (moov atom first: faststart)."""
        if self._out is None:
            return
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None
        try:
            self._raise_worker_error()
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            if self._audio is not None:
                self._audio.close()
        finally:
            self._out.close()
            self._out = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def moov_before_mdat(path: Path | str) -> bool:
    """True when the MP4's moov atom precedes mdat (progressive playback in browsers)."""
    order: list[str] = []
    with open(path, "rb") as fh:
        while True:
            head = fh.read(8)
            if len(head) < 8:
                break
            size, kind = int.from_bytes(head[:4], "big"), head[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(fh.read(8), "big") - 8
            elif size == 0:
                order.append(kind)
                break
            order.append(kind)
            fh.seek(size - 8, 1)
    return "moov" in order and "mdat" in order and order.index("moov") < order.index("mdat")
