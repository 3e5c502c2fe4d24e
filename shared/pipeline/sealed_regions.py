"""Seal the original face regions: the face box exactly, the margin around it at high quality.

De-identification hands every crop square it is about to paint to :meth:`RegionSealer.write`, with
its face box, in frame order. The box (what the manifest records, and what an authority compares)
goes into the track's exact segment; the rest of the square (the margin the public module may blend
into) into the track's lossy segment, coded whole: inside the box it is overwritten on restore.
Exact boxes cost 0.37x of carphone's file, whole squares coded exactly cost 0.995x. Each segment
(``shared.pipeline.track_codec``) lasts while its regions fit the canvas and keep one domain; a track
unseen for ``idle_frames`` frames is closed, so memory holds two small encoders per visible face
whatever the clip length. Records (see ``shared.pipeline.sealed_payload``)::

    SBEG  seg u32 | track u32 | domain u8 | canvas w u16 | h u16 | colorspace u8 | color_range u8
    SREG  seg u32 | frame u32 | cx0 cy0 cx1 cy1 u16 | ax0 ay0 aw ah u16 | crc32 u32
    SPKT  seg u32 || one H.264 packet
    SEND  seg u32

(cx0, cy0)-(cx1, cy1) is the frame region restored (the box, or the square clipped to the frame);
(ax0, ay0, aw, ah) the block whose samples the segment codes (widened to even coordinates in 4:2:0
domains); ``crc32`` is over the region's original RGB bytes in exact segments (0 in lossy ones), so
restoration can prove exactness. Payloads of version 2 hold exact segments of whole squares only.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from shared.pipeline.sealed_payload import RecordWriter
from shared.pipeline.track_codec import (
    LOSSY420,
    RGB,
    YUV420,
    ColourTags,
    Planes,
    SegmentEncoder,
    canvas_for,
    rct_forward,
    rgb_to_yuv420,
    yuv420_to_rgb,
)
from shared.video.crops import CropGeom
from shared.video.planes import NativeFrame, NativeFrames
from shared.video.types import FaceBox

SBEG = struct.Struct(">IIBHHBB")
SREG = struct.Struct(">II8HI")
SEG_ID = struct.Struct(">I")
IDLE_FRAMES = 50  # a track unseen this long is closed (it may come back as a new segment)


@dataclass(frozen=True)
class Block:
    """What one region codes: the restored region and the sample block around it."""

    cx0: int
    cy0: int
    cx1: int
    cy1: int
    ax0: int
    ay0: int
    aw: int
    ah: int


@dataclass(frozen=True)
class _Samples:
    """One region ready to code."""

    domain: int
    planes: Planes
    block: Block
    tags: ColourTags
    crc: int


@dataclass
class _Open:
    seg: int
    encoder: SegmentEncoder
    tags: ColourTags
    last_frame: int


def _native_block(native: NativeFrame, x0: int, y0: int, x1: int, y1: int) -> tuple[Planes, Block]:
    """The even-aligned yuv420p samples covering the frame region (x0, y0)-(x1, y1)."""
    h, w = native.y.shape
    ax0, ay0 = x0 & ~1, y0 & ~1
    ax1, ay1 = min(x1 + (x1 & 1), w), min(y1 + (y1 & 1), h)
    y = native.y[ay0:ay1, ax0:ax1]
    c_rows, c_cols = slice(ay0 // 2, (ay1 + 1) // 2), slice(ax0 // 2, (ax1 + 1) // 2)
    planes = (y.copy(), native.u[c_rows, c_cols].copy(), native.v[c_rows, c_cols].copy())
    return planes, Block(x0, y0, x1, y1, ax0, ay0, ax1 - ax0, ay1 - ay0)


def _exact(native: NativeFrame | None, x0: int, y0: int, rgb: np.ndarray) -> _Samples:
    """``rgb`` (the frame's pixels at (x0, y0)) in the source's 4:2:0 samples when they convert back
    to exactly these pixels, else through the reversible colour transform."""
    h, w = rgb.shape[:2]
    crc = zlib.crc32(np.ascontiguousarray(rgb).tobytes())
    if native is not None:
        planes, block = _native_block(native, x0, y0, x0 + w, y0 + h)
        tags = ColourTags(native.colorspace, native.color_range)
        back = yuv420_to_rgb(planes, tags)
        oy, ox = y0 - block.ay0, x0 - block.ax0
        if np.array_equal(back[oy : oy + h, ox : ox + w], rgb):
            return _Samples(YUV420, planes, block, tags, crc)
    block = Block(x0, y0, x0 + w, y0 + h, x0, y0, w, h)
    return _Samples(RGB, rct_forward(rgb), block, ColourTags(), crc)


def _lossy(native: NativeFrame | None, g: CropGeom, rgb: np.ndarray) -> _Samples:
    """The square's 4:2:0 samples for lossy coding: the source's own, else converted from RGB."""
    if native is not None:
        planes, block = _native_block(native, g.cx0, g.cy0, g.cx1, g.cy1)
        return _Samples(LOSSY420, planes, block, ColourTags(native.colorspace,
                                                            native.color_range), 0)  # fmt: skip
    h, w = rgb.shape[:2]
    even = np.pad(rgb, ((0, h & 1), (0, w & 1), (0, 0)), mode="edge")
    block = Block(g.cx0, g.cy0, g.cx1, g.cy1, g.cx0, g.cy0, w + (w & 1), h + (h & 1))
    return _Samples(LOSSY420, rgb_to_yuv420(even), block, ColourTags(), 0)


class RegionSealer:
    """Writes original regions as per-track exact and lossy segments into a :class:`RecordWriter`."""

    def __init__(self, out: RecordWriter, native: NativeFrames | None) -> None:
        self._out, self._native = out, native
        self._open: dict[tuple[int, bool], _Open] = {}  # (track id, lossy) -> its current segment
        self._next_seg = 0
        self._frame = -1
        self.count = 0
        self.rgb_fallbacks = 0  # boxes coded in the RGB domain (the source was not 4:2:0)

    def write(self, frame: int, geom: CropGeom, box: FaceBox, region: np.ndarray) -> None:
        """Seal one crop square (uint8 [h,w,3] RGB, exactly the pixels about to be painted) and its
        face box (integer pixels, inside the square)."""
        if region.shape != (geom.cy1 - geom.cy0, geom.cx1 - geom.cx0, 3):
            raise ValueError(f"region shape {region.shape} does not match its crop geometry")
        x0, y0 = max(int(box.x0), geom.cx0), max(int(box.y0), geom.cy0)
        x1, y1 = min(int(box.x1), geom.cx1), min(int(box.y1), geom.cy1)
        if x1 <= x0 or y1 <= y0:
            raise ValueError("the face box lies outside its crop square")
        if frame != self._frame:
            self._frame = frame
            self._close_idle(frame)
        native = self._native.at(frame) if self._native is not None else None
        if (x0, y0, x1, y1) != (geom.cx0, geom.cy0, geom.cx1, geom.cy1):
            self._code(frame, geom.track_id, _lossy(native, geom, region))
        inner = region[y0 - geom.cy0 : y1 - geom.cy0, x0 - geom.cx0 : x1 - geom.cx0]
        exact = _exact(native, x0, y0, inner)
        self.rgb_fallbacks += exact.domain == RGB
        self._code(frame, geom.track_id, exact)
        self.count += 1

    def close(self) -> None:
        """Flush every open segment (the caller closes the second decoder)."""
        for key in list(self._open):
            self._end(key)

    def _code(self, frame: int, track: int, s: _Samples) -> None:
        seg = self._segment(track, s)
        b = s.block
        coords = (b.cx0, b.cy0, b.cx1, b.cy1, b.ax0, b.ay0, b.aw, b.ah)
        self._out.write(b"SREG", SREG.pack(seg.seg, frame, *coords, s.crc))
        self._packets(seg.seg, seg.encoder.encode(s.planes))
        seg.last_frame = frame

    def _segment(self, track: int, s: _Samples) -> _Open:
        key = (track, s.domain == LOSSY420)
        seg = self._open.get(key)
        if seg is not None and (
            seg.encoder.domain != s.domain
            or seg.tags != s.tags
            or not seg.encoder.fits(s.block.aw, s.block.ah)
        ):
            self._end(key)
            seg = None
        if seg is None:
            width, height = canvas_for(s.block.aw, s.block.ah)
            seg = _Open(self._next_seg, SegmentEncoder(s.domain, width, height), s.tags, -1)
            self._next_seg += 1
            head = SBEG.pack(seg.seg, track, s.domain, width, height, s.tags.colorspace,
                             s.tags.color_range)  # fmt: skip
            self._out.write(b"SBEG", head)
            self._open[key] = seg
        return seg

    def _close_idle(self, frame: int) -> None:
        for key, seg in list(self._open.items()):
            if frame - seg.last_frame > IDLE_FRAMES:
                self._end(key)

    def _end(self, key: tuple[int, bool]) -> None:
        seg = self._open.pop(key)
        self._packets(seg.seg, seg.encoder.flush())
        self._out.write(b"SEND", SEG_ID.pack(seg.seg))

    def _packets(self, seg: int, packets: list[bytes]) -> None:
        for packet in packets:
            self._out.write(b"SPKT", SEG_ID.pack(seg) + packet)
