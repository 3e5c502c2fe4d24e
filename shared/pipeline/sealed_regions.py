"""The plaintext inside a sealed payload: original face regions, losslessly, in frame order.

Each record is ``b"FACE" || frame u32 || track u32 || cx0 u32 || cy0 u32 || cx1 u32 || cy1 u32 ||
png_len u32 || PNG`` where (cx0, cy0)-(cx1, cy1) is the exact frame region that de-identification
overwrote (the crop square clipped to the frame) and the PNG holds its original RGB pixels. Records
are written as frames stream by, so restoration reads them back in order with bounded memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from shared.crypto.seal import SealWriter
from shared.domain.errors import TamperedError
from shared.video.crops import CropGeom

_HEAD = struct.Struct(">4sIIIIIII")
_MAGIC = b"FACE"


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


class RegionWriter:
    """Serialises original regions into a :class:`SealWriter`."""

    def __init__(self, sealer: SealWriter) -> None:
        self._sealer = sealer
        self.count = 0

    def write(self, frame: int, geom: CropGeom, region: np.ndarray) -> None:
        """Append one region (uint8 [h,w,3] RGB) of ``frame``; its size must match ``geom``."""
        if region.shape != (geom.cy1 - geom.cy0, geom.cx1 - geom.cx0, 3):
            raise ValueError(f"region shape {region.shape} does not match its crop geometry")
        ok, png = cv2.imencode(".png", np.ascontiguousarray(region[:, :, ::-1]))
        if not ok:
            raise ValueError("PNG encoding of a face region failed")
        data = png.tobytes()
        head = _HEAD.pack(
            _MAGIC, frame, geom.track_id, geom.cx0, geom.cy0, geom.cx1, geom.cy1, len(data)
        )
        self._sealer.write(head + data)
        self.count += 1


def iter_records(chunks: Iterable[bytes]) -> Iterator[RegionRecord]:
    """Parse records from decrypted chunks (TamperedError if the structure is broken)."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= _HEAD.size:
            magic, frame, tid, cx0, cy0, cx1, cy1, n = _HEAD.unpack_from(buf)
            if magic != _MAGIC:
                raise TamperedError("sealed originals are malformed")
            if len(buf) < _HEAD.size + n:
                break
            png = bytes(buf[_HEAD.size : _HEAD.size + n])
            del buf[: _HEAD.size + n]
            yield RegionRecord(frame, tid, cx0, cy0, cx1, cy1, _decode(png, cx1 - cx0, cy1 - cy0))
    if buf:
        raise TamperedError("sealed originals end in the middle of a record")


def _decode(png: bytes, w: int, h: int) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.shape[:2] != (h, w):
        raise TamperedError("a sealed face region does not decode")
    return np.ascontiguousarray(img[:, :, ::-1])


def paste_record(frame: np.ndarray, rec: RegionRecord) -> None:
    """Write the original pixels back exactly, in place."""
    frame[rec.cy0 : rec.cy1, rec.cx0 : rec.cx1] = rec.pixels
