"""Lossless coding of one face track's regions: H.264 at qp 0 with temporal prediction.

A *segment* codes consecutive regions of one track on a fixed canvas (each region at the top-left,
edge-replicated to the canvas size), so the encoder predicts each face from the previous one. x264
at qp 0 (High 4:4:4 Predictive, transform bypass) is lossless; ``tune=zerolatency`` and one thread
make every region come out as one packet at once, which keeps sealing and restoring streaming.
Two sample domains:

- ``YUV420``: the source's own decoded yuv420p samples of the region, widened to even coordinates.
  Restoration converts them with the same swscale call the decoder makes; that conversion is
  local (chroma of a 2x2 block), so the RGB equals the frame's decoded RGB exactly, and the sealer
  checks it region by region before relying on it. Half the samples of RGB: about half the bytes.
- ``RGB``: the region's RGB pixels through a reversible colour transform (G, B-G+128, R-G+128,
  modulo 256) coded as yuv444p: for sources that are not 8-bit 4:2:0, and any region whose check
  failed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

YUV420, RGB = 0, 1
CANVAS_STEP = 16  # canvases grow in these steps (x264 macroblocks)
SEAL_PRESET = "medium"  # carphone: 578 KB at medium vs 607 KB veryfast, 566 KB slower (3x the time)
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # uint8 [h,w], [ch,cw], [ch,cw]
_local = threading.local()  # one reformatter per thread: it caches its swscale context


@dataclass(frozen=True)
class ColourTags:
    """The decoded frame's colour tags: they select swscale's YUV->RGB matrix and range."""

    colorspace: int = 2  # AVCOL_SPC_UNSPECIFIED
    color_range: int = 0  # AVCOL_RANGE_UNSPECIFIED


def _grown(n: int) -> int:
    return -(-round(n * 1.25) // CANVAS_STEP) * CANVAS_STEP


def canvas_for(width: int, height: int) -> tuple[int, int]:
    """A canvas a quarter larger than the region, in whole macroblocks (room to grow)."""
    return _grown(width), _grown(height)


def rct_forward(rgb: np.ndarray) -> Planes:
    """RGB uint8 [h,w,3] -> (G, B-G+128, R-G+128) modulo 256: exact, and smooth where colour is."""
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return (
        g.astype(np.uint8),
        ((b - g + 128) & 255).astype(np.uint8),
        ((r - g + 128) & 255).astype(np.uint8),
    )


def rct_inverse(planes: Planes) -> np.ndarray:
    """Inverse of :func:`rct_forward`: uint8 [h,w,3] RGB."""
    g = planes[0].astype(np.int16)
    b = (planes[1].astype(np.int16) - 128 + g) & 255
    r = (planes[2].astype(np.int16) - 128 + g) & 255
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def _rows(plane: Any) -> np.ndarray:
    """A frame plane as a writable uint8 [height, line_size] view (the stubs lack the buffer API)."""
    return np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)


def _fill(frame: av.VideoFrame, planes: Planes) -> av.VideoFrame:
    """Copy planes into the frame's own buffers."""
    for data, plane in zip(planes, frame.planes, strict=True):
        _rows(plane)[: data.shape[0], : data.shape[1]] = data
    return frame


def _read(frame: av.VideoFrame, sizes: list[tuple[int, int]]) -> Planes:
    """The planes of a decoded frame, cut to ``sizes`` [(h, w), ...] (copies)."""
    out = [_rows(plane)[:h, :w].copy() for plane, (h, w) in zip(frame.planes, sizes, strict=True)]
    return out[0], out[1], out[2]


def chroma_size(height: int, width: int) -> tuple[int, int]:
    """Size of a 4:2:0 chroma plane for a luma plane of ``height`` x ``width``."""
    return (height + 1) // 2, (width + 1) // 2


def yuv420_to_rgb(planes: Planes, tags: ColourTags) -> np.ndarray:
    """yuv420p planes -> RGB uint8 [h,w,3] through swscale, as the decoder converts frames."""
    h, w = planes[0].shape
    frame = _fill(av.VideoFrame(w, h, "yuv420p"), planes)
    frame.colorspace, frame.color_range = tags.colorspace, tags.color_range
    if not hasattr(_local, "reformatter"):
        _local.reformatter = VideoReformatter()
    # The same defaults as VideoFrame.to_ndarray(format="rgb24"), which the decoder uses.
    rgb: np.ndarray = _local.reformatter.reformat(frame, format="rgb24").to_ndarray()
    return rgb


def _pad_to(plane: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.pad(plane, ((0, h - plane.shape[0]), (0, w - plane.shape[1])), mode="edge")


class SegmentEncoder:
    """Encodes regions of one track on a ``width`` x ``height`` canvas; packets as they come."""

    def __init__(self, domain: int, width: int, height: int) -> None:
        self.domain, self.width, self.height = domain, width, height
        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height = width, height
        cc.pix_fmt = "yuv420p" if domain == YUV420 else "yuv444p"
        cc.time_base = Fraction(1, 25)  # nominal: the frame indices travel beside the packets
        cc.thread_count = 1
        cc.options = {"qp": "0", "preset": SEAL_PRESET, "tune": "zerolatency"}
        self._cc, self._pts = cc, 0

    def fits(self, width: int, height: int) -> bool:
        """Whether a region of this size fits the canvas."""
        return width <= self.width and height <= self.height

    def encode(self, planes: Planes) -> list[bytes]:
        """Code one region's planes (luma-sized first); returns the packets now ready."""
        if self.domain == YUV420:
            ch, cw = self.height // 2, self.width // 2
            sizes = [(self.height, self.width), (ch, cw), (ch, cw)]
            frame = av.VideoFrame(self.width, self.height, "yuv420p")
        else:
            sizes = [(self.height, self.width)] * 3
            frame = av.VideoFrame(self.width, self.height, "yuv444p")
        padded = tuple(_pad_to(p, h, w) for p, (h, w) in zip(planes, sizes, strict=True))
        _fill(frame, padded)  # type: ignore[arg-type]
        frame.pts = self._pts
        self._pts += 1
        return [bytes(p) for p in self._cc.encode(frame)]

    def flush(self) -> list[bytes]:
        """The packets still inside the encoder (none with zerolatency, but never assume)."""
        return [bytes(p) for p in self._cc.encode(None)]


class SegmentDecoder:
    """Decodes one segment's packets back to canvases, cut to each region's planes by the caller."""

    def __init__(self, domain: int) -> None:
        self.domain = domain
        self._cc = av.CodecContext.create("h264", "r")
        self._cc.thread_count = 1  # no frame threads: a region comes out as its packet goes in

    def decode(self, packet: bytes | None) -> list[av.VideoFrame]:
        """Feed one packet (None: flush); returns the canvases decoded so far, in order."""
        return list(self._cc.decode(av.Packet(packet) if packet is not None else None))


def cut_planes(frame: av.VideoFrame, domain: int, height: int, width: int) -> Planes:
    """The region's planes from a decoded canvas (``height`` x ``width`` luma samples)."""
    if domain == YUV420:
        ch, cw = chroma_size(height, width)
        return _read(frame, [(height, width), (ch, cw), (ch, cw)])
    return _read(frame, [(height, width)] * 3)
