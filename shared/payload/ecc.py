"""Reed-Solomon over the sealed payload, and soft-decision decoding from the channel's bit sums.

The message is split into ``blocks`` RS(255-or-less) blocks over GF(256) (``reedsolo``), each block's
data ending with a CRC-32 of its part of the message, and the blocks' bytes interleaved so block
``j`` owns bytes ``j, j + blocks, ...`` of the codeword. Decoding starts from the channel's soft
sums: a bit never observed makes its byte an erasure; then the least reliable bytes (reliability =
the smallest |sum| of their 8 bits) are erased in growing numbers until the block decodes to a word
whose CRC holds (generalised minimum-distance decoding: an erasure costs half an error). The CRC
turns a Reed-Solomon miscorrection, likely when many bytes are erased, into one more attempt
instead of a garbled header; authentication remains the final word on the content.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

from shared.domain.errors import BadInputError

RS_MAX = 255  # bytes per block over GF(256)
ERASE_STEP = 4  # extra erasures tried per decoding attempt
CRC = 4  # bytes of CRC-32 closing each block's data


@dataclass(frozen=True)
class EccLayout:
    """How a message of ``message_bytes`` is spread over RS blocks."""

    message_bytes: int
    blocks: int
    data_bytes: int  # per block, CRC included (the message is zero-padded to fill the blocks)
    parity_bytes: int  # per block

    @property
    def chunk(self) -> int:
        """Message bytes per block (its data minus the CRC)."""
        return self.data_bytes - CRC

    @property
    def codeword_bytes(self) -> int:
        """Bytes of the whole codeword."""
        return self.blocks * (self.data_bytes + self.parity_bytes)

    @property
    def bits(self) -> int:
        """Bits of the whole codeword (what the channel carries)."""
        return 8 * self.codeword_bytes


def plan(message_bytes: int, parity: float) -> EccLayout:
    """Blocks for a message with ``parity`` parity bytes per data byte (0 < parity, blocks <= 255)."""
    if message_bytes <= 0 or parity <= 0:
        raise BadInputError("error correction needs a message and some parity")
    blocks = 1
    while True:
        data = math.ceil(message_bytes / blocks) + CRC
        nsym = max(2, round(data * parity))
        if data + nsym <= RS_MAX:
            return EccLayout(message_bytes, blocks, data, nsym)
        blocks += 1


@lru_cache(maxsize=8)
def _codec(parity_bytes: int) -> RSCodec:
    return RSCodec(parity_bytes, nsize=RS_MAX)


def encode(message: bytes, layout: EccLayout) -> np.ndarray:
    """The codeword bits (uint8 0/1, ``layout.bits`` long) of a message of the planned length."""
    if len(message) != layout.message_bytes:
        raise BadInputError(f"message must be {layout.message_bytes} bytes, got {len(message)}")
    k = layout.chunk
    padded = message + bytes(layout.blocks * k - len(message))
    codec = _codec(layout.parity_bytes)
    chunks = [padded[b * k : (b + 1) * k] for b in range(layout.blocks)]
    blocks = [bytes(codec.encode(c + zlib.crc32(c).to_bytes(CRC, "big"))) for c in chunks]
    interleaved = np.frombuffer(b"".join(blocks), dtype=np.uint8)
    interleaved = interleaved.reshape(layout.blocks, -1).T.reshape(-1)  # byte i of block j -> i*B+j
    return np.unpackbits(interleaved)


def _decode_block(received: bytes, reliability: np.ndarray, parity: int) -> bytes | None:
    """Errors-and-erasures decoding, erasing more of the least reliable bytes at each try, until a
    word with a valid CRC comes out; its message part, or None."""
    codec = _codec(parity)
    order = np.argsort(reliability, kind="stable")
    must = int(np.count_nonzero(reliability <= 0))
    for erased in range(must, parity + 1, ERASE_STEP):
        try:
            data, _, _ = codec.decode(received, erase_pos=sorted(order[:erased].tolist()))
        except ReedSolomonError:
            continue
        chunk, crc = bytes(data[:-CRC]), bytes(data[-CRC:])
        if zlib.crc32(chunk).to_bytes(CRC, "big") == crc:
            return chunk
    return None


def decode(llr: np.ndarray, hits: np.ndarray, layout: EccLayout) -> bytes | None:
    """The message from soft sums (> 0 means 1) and observation counts; None when it cannot."""
    bits = (llr > 0).astype(np.uint8)
    strength = np.where(hits > 0, np.abs(llr), 0.0).reshape(-1, 8).min(axis=1)  # per byte
    received = np.packbits(bits)
    n = layout.data_bytes + layout.parity_bytes
    per_block = received.reshape(n, layout.blocks).T  # undo the interleave
    strength = strength.reshape(n, layout.blocks).T
    out = []
    for b in range(layout.blocks):
        block = _decode_block(per_block[b].tobytes(), strength[b], layout.parity_bytes)
        if block is None:
            return None
        out.append(block)
    return b"".join(out)[: layout.message_bytes]
