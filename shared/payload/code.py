"""The identity code of a track: its face as a small WebP thumbnail in a fixed-size record.

The probe on this machine (docs/PAYLOAD.md) measured how much of a face the dlib judge needs: a
32 px thumbnail keeps the match on 48 of 48 real faces, 24 px on 44, 16 px on 27; WebP at 32 px
costs about 240-290 bytes for 0.94-0.96 of them, where JPEG at the same size loses far more identity
(its 8x8 blocks and ~600 bytes of tables dominate). No learned latent is used: no real face data
ships here to train one, and a code trained on synthetic faces would have to prove it keeps real
identities better than the thumbnail does.

The record is ``u16 length | VP8 bitstream | zero padding`` of exactly ``budget + 2`` bytes. The
RIFF container and the VP8 start code and dimensions (27 bytes, all constant for a given size) are
stripped and rebuilt on decoding. The WebP quality is the highest that fits the budget.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from shared.domain.errors import BadInputError

CODE_WEBP = 1  # code format id carried in the payload header
_START = b"\x9d\x01\x2a"  # VP8 key frame start code
_TAG = 3  # bytes of the VP8 frame tag kept before the (stripped) start code and dimensions


@dataclass(frozen=True)
class CodeOptions:
    """Thumbnail size, crop margin and byte budget of the code (part of the payload format)."""

    size: int = 32  # px, square
    margin: float = 0.2  # crop side = longest box side * (1 + 2 margin), as the model's crops
    budget: int = 256  # bytes the WebP bitstream may take

    @property
    def record_bytes(self) -> int:
        """Length of the fixed-size record (length prefix + budget)."""
        return self.budget + 2


def face_square(
    frame: np.ndarray, box: tuple[float, float, float, float], margin: float
) -> np.ndarray:
    """The square around a face box (corners x0, y0, x1, y1), edge-padded where it leaves the frame."""
    x0, y0, x1, y1 = box
    side = max(2, round(max(x1 - x0, y1 - y0) * (1 + 2 * margin)))
    left, top = round((x0 + x1 - side) / 2), round((y0 + y1 - side) / 2)
    h, w = frame.shape[:2]
    pad = max(0, -left, -top, left + side - w, top + side - h)
    padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else frame
    return np.ascontiguousarray(
        padded[top + pad : top + pad + side, left + pad : left + pad + side]
    )


def _webp(thumb_bgr: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".webp", thumb_bgr, [cv2.IMWRITE_WEBP_QUALITY, quality])
    data = bytes(buf)
    if not ok or data[12:16] != b"VP8 " or data[20 + _TAG : 23 + _TAG] != _START:
        raise BadInputError("WebP encoder gave an unexpected bitstream (lossy VP8 expected)")
    length = struct.unpack("<I", data[16:20])[0]
    body = data[20 : 20 + length]
    return body[:_TAG] + body[_TAG + 7 :]  # drop start code (3) and dimensions (4)


def encode_face(face_rgb: np.ndarray, options: CodeOptions | None = None) -> bytes:
    """RGB uint8 face crop -> the fixed-size record (highest WebP quality within the budget)."""
    o = options or CodeOptions()
    if face_rgb.ndim != 3 or face_rgb.shape[2] != 3 or min(face_rgb.shape[:2]) < 2:
        raise BadInputError("the identity code needs an RGB face crop")
    thumb = cv2.resize(face_rgb, (o.size, o.size), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    thumb = np.ascontiguousarray(thumb)
    lo, hi, best = 1, 100, _webp(thumb, 1)
    if len(best) > o.budget:
        raise BadInputError(f"a {o.size} px code does not fit {o.budget} bytes even at quality 1")
    while lo < hi:  # largest quality whose bitstream fits the budget
        mid = (lo + hi + 1) // 2
        data = _webp(thumb, mid)
        if len(data) <= o.budget:
            lo, best = mid, data
        else:
            hi = mid - 1
    return struct.pack(">H", len(best)) + best + bytes(o.budget - len(best))


def decode_face(record: bytes, options: CodeOptions | None = None) -> np.ndarray:
    """The record -> RGB uint8 thumbnail [size,size,3]; BadInputError when it is not one."""
    o = options or CodeOptions()
    if len(record) != o.record_bytes:
        raise BadInputError(f"identity code must be {o.record_bytes} bytes, got {len(record)}")
    (length,) = struct.unpack(">H", record[:2])
    if not _TAG < length <= o.budget:
        raise BadInputError("identity code has an impossible length")
    body = record[2 : 2 + length]
    dims = struct.pack("<HH", o.size, o.size)
    vp8 = body[:_TAG] + _START + dims + body[_TAG:]
    chunk = b"VP8 " + struct.pack("<I", len(vp8)) + vp8 + (b"\0" if len(vp8) % 2 else b"")
    riff = b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk
    img = cv2.imdecode(np.frombuffer(riff, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.shape[:2] != (o.size, o.size):
        raise BadInputError("identity code does not decode as a thumbnail")
    return np.ascontiguousarray(img[:, :, ::-1])
