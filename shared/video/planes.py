"""The decoder's own samples of each frame (yuv420p planes), in step with ``iter_frames``.

Sealing codes face regions in the source's native 4:2:0 samples (half the data of RGB); this reader
decodes the clip a second time, frame by frame in the same order as ``shared.video.decode``, and
keeps only the current frame. Frames that are not 8-bit 4:2:0 at the clip's size give None.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np


@dataclass(frozen=True)
class NativeFrame:
    """One decoded yuv420p frame: planes Y [H,W], U and V [ceil(H/2),ceil(W/2)] and colour tags."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    colorspace: int
    color_range: int


def _planes(frame: Any) -> NativeFrame:
    out = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(rows[:, : plane.width])  # views into the frame: valid while it lives
    return NativeFrame(out[0], out[1], out[2], int(frame.colorspace), int(frame.color_range))


class NativeFrames:
    """``at(index)`` -> the native planes of frame ``index``; indices must not go backwards."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self._container = av.open(str(path), mode="r", metadata_errors="ignore")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._frames: Iterator[Any] = self._container.decode(stream)
        self._size = (width, height)
        self._index = -1
        self._frame: Any = None

    def at(self, index: int) -> NativeFrame | None:
        """The planes of frame ``index`` or None (not 4:2:0, other size, or past the end)."""
        while self._index < index:
            self._frame = next(self._frames, None)
            self._index += 1
            if self._frame is None:
                self._index = index  # the clip ended: nothing more to decode
                break
        frame = self._frame
        if frame is None or self._index != index:
            return None
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != self._size:
            return None
        return _planes(frame)

    def close(self) -> None:
        """Close the second decoder."""
        self._container.close()
