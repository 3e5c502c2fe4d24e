"""Read sealed face regions back, frame by frame, for restoration (inverse of ``sealed_regions``).

:class:`RegionReader` decodes only the segments of the chosen tracks and hands out each frame's
regions when the restorer reaches that frame, lossy margins before exact boxes (pasted in that
order, every box is exact even where squares overlap); memory holds the open decoders and the
regions decoded ahead (the lossy segments' lookahead: about a dozen frames). Every exact region's
CRC-32 is checked against the original RGB that was sealed: ``mismatches`` counts the ones that
came back different (restoration on a machine whose colour conversion differs from the sealer's),
so a caller can say whether the restore is exact.

The first release sealed one PNG per face per frame (``b"FACE" || frame u32 || track u32 || cx0
cy0 cx1 cy1 u32 || png_len u32 || PNG``); such payloads still open here.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from shared.domain.errors import TamperedError
from shared.pipeline.sealed_payload import Record, read_records
from shared.pipeline.sealed_regions import SBEG, SEG_ID, SREG, Block
from shared.pipeline.track_codec import (
    DOMAINS,
    LOSSY420,
    RGB,
    ColourTags,
    SegmentDecoder,
    cut_planes,
    rct_inverse,
    yuv420_to_rgb,
)

log = logging.getLogger(__name__)
_LEGACY = struct.Struct(">4sIIIIIII")


@dataclass(frozen=True)
class RegionRecord:
    """One original face region: where it goes and its pixels (uint8 [h,w,3] RGB)."""

    frame: int
    track_id: int
    cx0: int
    cy0: int
    cx1: int
    cy1: int
    pixels: np.ndarray
    exact: bool = True  # False: a margin coded lossily (pasted first, boxes then overwrite it)


def paste_record(frame: np.ndarray, rec: RegionRecord) -> None:
    """Write the original pixels back exactly, in place."""
    frame[rec.cy0 : rec.cy1, rec.cx0 : rec.cx1] = rec.pixels


@dataclass
class _Segment:
    track: int
    domain: int
    tags: ColourTags
    decoder: SegmentDecoder | None  # None: a track that is not restored (packets skipped)
    pending: deque[tuple[int, Block, int]] = field(default_factory=deque)  # (frame, block, crc)


class RegionReader:
    """``for_frame(i)`` -> the original regions of frame ``i`` for the chosen tracks, in order."""

    def __init__(self, chunks: Iterable[bytes], tracks: frozenset[int]) -> None:
        legacy, records = read_records(chunks)
        self._tracks = tracks
        self._legacy = _legacy_records(b for _, b in records) if legacy else None
        self._records: Iterator[Record] = iter(()) if legacy else records
        self._next: RegionRecord | None = None
        self._segments: dict[int, _Segment] = {}
        self._ready: dict[int, list[RegionRecord]] = {}
        self._seen = -1  # highest frame index named by a region record so far
        self._done = False
        self.mismatches = 0

    def for_frame(self, index: int) -> list[RegionRecord]:
        """The regions of frame ``index``; call with increasing indices."""
        if self._legacy is not None:
            return self._legacy_frame(index)
        while not self._done and (self._seen <= index or self._waiting(index)):
            self._step()
        for old in [f for f in self._ready if f < index]:
            del self._ready[old]
        return sorted(self._ready.pop(index, []), key=lambda rec: rec.exact)

    def _legacy_frame(self, index: int) -> list[RegionRecord]:
        assert self._legacy is not None
        out: list[RegionRecord] = []
        while True:
            if self._next is None:
                self._next = next(self._legacy, None)
            if self._next is None or self._next.frame > index:
                return out
            if self._next.frame == index and self._next.track_id in self._tracks:
                out.append(self._next)
            self._next = None

    def _waiting(self, index: int) -> bool:
        return any(s.pending and s.pending[0][0] <= index for s in self._segments.values())

    def _step(self) -> None:
        record = next(self._records, None)
        if record is None:
            self._done = True
            if any(s.pending for s in self._segments.values()):
                raise TamperedError("sealed regions end before every region was decoded")
            return
        tag, body = record
        if tag == b"SBEG":
            seg, track, domain, _w, _h, cs, cr = SBEG.unpack(body)
            if domain not in DOMAINS:
                raise TamperedError("sealed payload holds a segment of an unknown kind")
            decoder = SegmentDecoder(domain) if track in self._tracks else None
            self._segments[seg] = _Segment(track, domain, ColourTags(cs, cr), decoder)
        elif tag == b"SREG":
            seg, frame, *coords, crc = SREG.unpack(body)
            self._seen = max(self._seen, frame)
            if self._segment(seg).decoder is not None:
                self._segment(seg).pending.append((frame, Block(*coords), crc))
        elif tag == b"SPKT":
            (seg,) = SEG_ID.unpack_from(body)
            self._decoded(seg, body[SEG_ID.size :])
        elif tag == b"SEND":
            (seg,) = SEG_ID.unpack(body)
            self._decoded(seg, None)
            if self._segments.pop(seg).pending:
                raise TamperedError("a sealed segment ends before its regions were decoded")
        elif tag not in (b"ORIG", b"OEND"):
            raise TamperedError("sealed payload holds an unknown record")

    def _segment(self, seg: int) -> _Segment:
        try:
            return self._segments[seg]
        except KeyError:
            raise TamperedError("sealed payload names a segment that never began") from None

    def _decoded(self, seg_id: int, packet: bytes | None) -> None:
        seg = self._segment(seg_id)
        if seg.decoder is None:
            return
        try:
            canvases = seg.decoder.decode(packet)
        except av.FFmpegError as err:
            raise TamperedError("a sealed face segment does not decode") from err
        for canvas in canvases:
            if not seg.pending:
                raise TamperedError("a sealed segment holds more pictures than regions")
            frame, block, crc = seg.pending.popleft()
            pixels = self._pixels(seg, canvas, block)
            exact = seg.domain != LOSSY420
            if exact and zlib.crc32(pixels.tobytes()) != crc:
                self.mismatches += 1
            rec = RegionRecord(frame, seg.track, block.cx0, block.cy0, block.cx1, block.cy1, pixels,
                               exact)  # fmt: skip
            self._ready.setdefault(frame, []).append(rec)

    @staticmethod
    def _pixels(seg: _Segment, canvas: av.VideoFrame, b: Block) -> np.ndarray:
        planes = cut_planes(canvas, seg.domain, b.ah, b.aw)
        rgb = rct_inverse(planes) if seg.domain == RGB else yuv420_to_rgb(planes, seg.tags)
        oy, ox = b.cy0 - b.ay0, b.cx0 - b.ax0
        return np.ascontiguousarray(rgb[oy : oy + b.cy1 - b.cy0, ox : ox + b.cx1 - b.cx0])


def _legacy_records(chunks: Iterable[bytes]) -> Iterator[RegionRecord]:
    """First-release payloads (PNG per face per frame), streamed in frame order."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= _LEGACY.size:
            magic, frame, tid, cx0, cy0, cx1, cy1, n = _LEGACY.unpack_from(buf)
            if magic != b"FACE":
                raise TamperedError("sealed originals are malformed")
            if len(buf) < _LEGACY.size + n:
                break
            png = np.frombuffer(bytes(buf[_LEGACY.size : _LEGACY.size + n]), np.uint8)
            del buf[: _LEGACY.size + n]
            img = cv2.imdecode(png, cv2.IMREAD_COLOR)
            if img is None or img.shape[:2] != (cy1 - cy0, cx1 - cx0):
                raise TamperedError("a sealed face region does not decode")
            pixels = np.ascontiguousarray(img[:, :, ::-1])
            yield RegionRecord(frame, tid, cx0, cy0, cx1, cy1, pixels)
    if buf:
        raise TamperedError("sealed originals end in the middle of a record")
