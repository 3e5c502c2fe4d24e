"""Coding of one face track's regions as H.264 with temporal prediction: exact boxes, lossy margins.

A *segment* codes consecutive regions of one track on a fixed canvas (each region at the top-left,
the rest of the canvas a constant grey: padding that does not change from frame to frame costs
nothing, where edge-replicated padding cost 3-18 % of the face boxes and 20 % of the margins), so
the encoder predicts each face from the previous one. One thread per encoder. Three sample domains:

- ``YUV420``: the source's own decoded yuv420p samples of the region, widened to even coordinates.
  Restoration converts them with the same swscale call the decoder makes; that conversion is
  local (chroma of a 2x2 block), so the RGB equals the frame's decoded RGB exactly, and the sealer
  checks it region by region before relying on it. Half the samples of RGB: about half the bytes.
- ``RGB``: the region's RGB pixels through a reversible colour transform (G, B-G+128, R-G+128,
  modulo 256) coded as yuv444p: for sources that are not 8-bit 4:2:0, and any region whose check
  failed.
- ``LOSSY420``: yuv420p samples (the source's own, else converted from RGB) coded at ``MARGIN_CRF``:
  the margin around a face box, which only needs to look like the original.

The two exact domains are x264 at qp 0 (High 4:4:4 Predictive, transform bypass) with
``tune=zerolatency``: every region comes out as one packet at once. The lossy one uses a short
lookahead (about a dozen regions of delay; the reader decodes that far ahead).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

YUV420, RGB, LOSSY420 = 0, 1, 2
DOMAINS = (YUV420, RGB, LOSSY420)
CANVAS_STEP = 16  # canvases grow in these steps (x264 macroblocks)
PAD_VALUE = 128  # the canvas outside the region
# Exact segments, carphone squares: 578 KB at medium vs 607 KB veryfast, 566 KB slower (3x the time).
SEAL_PRESET = "medium"
# Margins (the crop square around the face box): CRF 20 with tune=psnr restores them at 35.8 dB PSNR
# on carphone and 38.2 dB on the 720p clip (the public clip, CRF 20, keeps 35.4 and 39.7 dB of the
# rest of the frame) for a fifth of the carphone payload. Measured on carphone, at equal size:
# tune=psnr +0.35 dB over the default; lookahead 10 as good as 50 (and the reader decodes less far
# ahead), 5 % smaller than none; preset slow 2 % smaller than medium.
MARGIN_CRF = 20
_LOSSY_OPTIONS = {"crf": str(MARGIN_CRF), "preset": "slow", "tune": "psnr",
                  "x264-params": "rc-lookahead=10"}  # fmt: skip
_EXACT_OPTIONS = {"qp": "0", "preset": SEAL_PRESET, "tune": "zerolatency"}
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # uint8 [h,w], [ch,cw], [ch,cw]
_local = threading.local()  # swscale contexts per thread (the sealing thread has its own)
_CONVERTERS = 32  # canvas sizes whose swscale context a thread keeps


@dataclass(frozen=True)
class ColourTags:
    """The decoded frame's colour tags: they select swscale's YUV->RGB matrix and range."""

    colorspace: int = 2  # AVCOL_SPC_UNSPECIFIED
    color_range: int = 0  # AVCOL_RANGE_UNSPECIFIED


def _step(n: int) -> int:
    return -(-n // CANVAS_STEP) * CANVAS_STEP


def _grown(n: int) -> int:
    return _step(round(n * 1.25))


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
    """Copy planes into the top-left of the frame's own buffers; the rest is ``PAD_VALUE``."""
    for data, plane in zip(planes, frame.planes, strict=True):
        rows = _rows(plane)[:, : plane.width]
        h, w = data.shape
        rows[:h, :w] = data
        rows[:h, w:] = PAD_VALUE
        rows[h:] = PAD_VALUE
    return frame


def _read(frame: av.VideoFrame, sizes: list[tuple[int, int]]) -> Planes:
    """The planes of a decoded frame, cut to ``sizes`` [(h, w), ...] (copies)."""
    out = [_rows(plane)[:h, :w].copy() for plane, (h, w) in zip(frame.planes, sizes, strict=True)]
    return out[0], out[1], out[2]


def chroma_size(height: int, width: int) -> tuple[int, int]:
    """Size of a 4:2:0 chroma plane for a luma plane of ``height`` x ``width``."""
    return (height + 1) // 2, (width + 1) // 2


def _converter(width: int, height: int) -> VideoReformatter:
    """This thread's swscale context for canvases of this size (each caches one context)."""
    cache: OrderedDict[tuple[int, int], VideoReformatter] = _local.__dict__.setdefault(
        "reformatters", OrderedDict()
    )
    key = (width, height)
    if key in cache:
        cache.move_to_end(key)
    else:
        cache[key] = VideoReformatter()
        if len(cache) > _CONVERTERS:
            cache.popitem(last=False)
    return cache[key]


def yuv420_to_rgb(planes: Planes, tags: ColourTags) -> np.ndarray:
    """yuv420p planes -> RGB uint8 [h,w,3] through swscale, as the decoder converts frames.

    Converted on a canvas rounded up to ``CANVAS_STEP`` (the conversion is local to each 2x2 block,
    so the padding changes nothing inside; the tests check the result against whole frames): a few
    cached swscale contexts serve every region size, where one context re-made for each new size
    cost 1.9 ms per region on the 720p clip."""
    h, w = planes[0].shape
    width, height = _step(w), _step(h)
    frame = _fill(av.VideoFrame(width, height, "yuv420p"), planes)
    frame.colorspace, frame.color_range = tags.colorspace, tags.color_range
    # The same defaults as VideoFrame.to_ndarray(format="rgb24"), which the decoder uses.
    rgb = _converter(width, height).reformat(frame, format="rgb24").to_ndarray()
    return np.ascontiguousarray(rgb[:h, :w])


def rgb_to_yuv420(rgb: np.ndarray) -> Planes:
    """RGB uint8 [h,w,3] (even sizes) -> yuv420p planes, as swscale converts with unset colour tags
    (the inverse of :func:`yuv420_to_rgb` with ``ColourTags()``, up to rounding)."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    h, w = rgb.shape[:2]
    return _read(frame.reformat(format="yuv420p"), [(h, w), (h // 2, w // 2), (h // 2, w // 2)])


class SegmentEncoder:
    """Encodes regions of one track on a ``width`` x ``height`` canvas; packets as they come."""

    def __init__(self, domain: int, width: int, height: int) -> None:
        self.domain, self.width, self.height = domain, width, height
        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height = width, height
        cc.pix_fmt = "yuv444p" if domain == RGB else "yuv420p"
        cc.time_base = Fraction(1, 25)  # nominal: the frame indices travel beside the packets
        cc.thread_count = 1
        cc.options = dict(_LOSSY_OPTIONS if domain == LOSSY420 else _EXACT_OPTIONS)
        self._cc, self._pts = cc, 0

    def fits(self, width: int, height: int) -> bool:
        """Whether a region of this size fits the canvas."""
        return width <= self.width and height <= self.height

    def encode(self, planes: Planes) -> list[bytes]:
        """Code one region's planes (luma-sized first); returns the packets now ready."""
        pix_fmt = "yuv444p" if self.domain == RGB else "yuv420p"
        frame = _fill(av.VideoFrame(self.width, self.height, pix_fmt), planes)
        frame.pts = self._pts
        self._pts += 1
        return [bytes(p) for p in self._cc.encode(frame)]

    def flush(self) -> list[bytes]:
        """The packets still inside the encoder (the lossy lookahead's; none with zerolatency)."""
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
    if domain != RGB:
        ch, cw = chroma_size(height, width)
        return _read(frame, [(height, width), (ch, cw), (ch, cw)])
    return _read(frame, [(height, width)] * 3)
