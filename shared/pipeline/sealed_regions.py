"""Seal the original face regions: one lossless H.264 segment per track run (the region sink).

De-identification hands every region it is about to overwrite to :meth:`RegionSealer.write`, in
frame order. Each track gets a segment (``shared.pipeline.track_codec``) that lasts while its regions
fit the canvas and keep one domain; a track unseen for ``idle_frames`` frames is closed, so memory
holds one small encoder per visible face whatever the clip length. Records (see
``shared.pipeline.sealed_payload``)::

    SBEG  seg u32 | track u32 | domain u8 | canvas w u16 | h u16 | colorspace u8 | color_range u8
    SREG  seg u32 | frame u32 | cx0 cy0 cx1 cy1 u16 | ax0 ay0 aw ah u16 | crc32 u32
    SPKT  seg u32 || one H.264 packet
    SEND  seg u32

(cx0, cy0)-(cx1, cy1) is the frame region that de-identification overwrote; (ax0, ay0, aw, ah) the
block whose samples the segment codes (the region widened to even coordinates in the YUV420
domain); ``crc32`` is over the region's original RGB bytes, so restoration can prove exactness.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from shared.pipeline.sealed_payload import RecordWriter
from shared.pipeline.track_codec import (
    RGB,
    YUV420,
    ColourTags,
    Planes,
    SegmentEncoder,
    canvas_for,
    rct_forward,
    yuv420_to_rgb,
)
from shared.video.crops import CropGeom
from shared.video.planes import NativeFrame, NativeFrames

SBEG = struct.Struct(">IIBHHBB")
SREG = struct.Struct(">II8HI")
SEG_ID = struct.Struct(">I")
IDLE_FRAMES = 50  # a track unseen this long is closed (it may come back as a new segment)


@dataclass(frozen=True)
class Block:
    """What one region codes: the overwritten region and the sample block around it."""

    cx0: int
    cy0: int
    cx1: int
    cy1: int
    ax0: int
    ay0: int
    aw: int
    ah: int


@dataclass
class _Open:
    seg: int
    encoder: SegmentEncoder
    tags: ColourTags
    last_frame: int


def _native_block(native: NativeFrame, g: CropGeom) -> tuple[Planes, Block]:
    """The even-aligned yuv420p samples covering the region ``g``."""
    h, w = native.y.shape
    ax0, ay0 = g.cx0 & ~1, g.cy0 & ~1
    ax1, ay1 = min(g.cx1 + (g.cx1 & 1), w), min(g.cy1 + (g.cy1 & 1), h)
    y = native.y[ay0:ay1, ax0:ax1]
    c_rows, c_cols = slice(ay0 // 2, (ay1 + 1) // 2), slice(ax0 // 2, (ax1 + 1) // 2)
    planes = (y.copy(), native.u[c_rows, c_cols].copy(), native.v[c_rows, c_cols].copy())
    return planes, Block(g.cx0, g.cy0, g.cx1, g.cy1, ax0, ay0, ax1 - ax0, ay1 - ay0)


class RegionSealer:
    """Writes original regions as per-track lossless segments into a :class:`RecordWriter`."""

    def __init__(self, out: RecordWriter, native: NativeFrames | None) -> None:
        self._out, self._native = out, native
        self._open: dict[int, _Open] = {}  # track id -> its current segment
        self._next_seg = 0
        self._frame = -1
        self.count = 0
        self.rgb_fallbacks = 0  # regions coded in the RGB domain (the source was not 4:2:0)

    def write(self, frame: int, geom: CropGeom, region: np.ndarray) -> None:
        """Seal one region (uint8 [h,w,3] RGB, exactly the pixels about to be overwritten)."""
        if region.shape != (geom.cy1 - geom.cy0, geom.cx1 - geom.cx0, 3):
            raise ValueError(f"region shape {region.shape} does not match its crop geometry")
        if frame != self._frame:
            self._frame = frame
            self._close_idle(frame)
        domain, planes, block, tags = self._samples(frame, geom, region)
        seg = self._segment(geom.track_id, domain, block, tags)
        crc = zlib.crc32(np.ascontiguousarray(region).tobytes())
        coords = (block.cx0, block.cy0, block.cx1, block.cy1, block.ax0, block.ay0, block.aw,
                  block.ah)  # fmt: skip
        self._out.write(b"SREG", SREG.pack(seg.seg, frame, *coords, crc))
        self._packets(seg.seg, seg.encoder.encode(planes))
        seg.last_frame = frame
        self.count += 1

    def close(self) -> None:
        """Flush every open segment (the caller closes the second decoder)."""
        for track in list(self._open):
            self._end(track)

    def _samples(
        self, frame: int, g: CropGeom, region: np.ndarray
    ) -> tuple[int, Planes, Block, ColourTags]:
        native = self._native.at(frame) if self._native is not None else None
        if native is not None:
            planes, block = _native_block(native, g)
            tags = ColourTags(native.colorspace, native.color_range)
            rgb = yuv420_to_rgb(planes, tags)
            oy, ox = g.cy0 - block.ay0, g.cx0 - block.ax0
            if np.array_equal(rgb[oy : oy + region.shape[0], ox : ox + region.shape[1]], region):
                return YUV420, planes, block, tags
        self.rgb_fallbacks += 1
        block = Block(g.cx0, g.cy0, g.cx1, g.cy1, g.cx0, g.cy0, g.cx1 - g.cx0, g.cy1 - g.cy0)
        return RGB, rct_forward(region), block, ColourTags()

    def _segment(self, track: int, domain: int, block: Block, tags: ColourTags) -> _Open:
        seg = self._open.get(track)
        if seg is not None and (
            seg.encoder.domain != domain
            or seg.tags != tags
            or not seg.encoder.fits(block.aw, block.ah)
        ):
            self._end(track)
            seg = None
        if seg is None:
            width, height = canvas_for(block.aw, block.ah)
            seg = _Open(self._next_seg, SegmentEncoder(domain, width, height), tags, -1)
            self._next_seg += 1
            head = SBEG.pack(seg.seg, track, domain, width, height, tags.colorspace,
                             tags.color_range)  # fmt: skip
            self._out.write(b"SBEG", head)
            self._open[track] = seg
        return seg

    def _close_idle(self, frame: int) -> None:
        for track, seg in list(self._open.items()):
            if frame - seg.last_frame > IDLE_FRAMES:
                self._end(track)

    def _end(self, track: int) -> None:
        seg = self._open.pop(track)
        self._packets(seg.seg, seg.encoder.flush())
        self._out.write(b"SEND", SEG_ID.pack(seg.seg))

    def _packets(self, seg: int, packets: list[bytes]) -> None:
        for packet in packets:
            self._out.write(b"SPKT", SEG_ID.pack(seg) + packet)
