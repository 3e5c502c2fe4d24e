"""Reed-Solomon over the sealed payload, and soft-decision decoding from the channel's bit sums.

The message is split into ``blocks`` RS(255-or-less) blocks over GF(256) (``reedsolo``), their bytes
interleaved so block ``j`` owns bytes ``j, j + blocks, ...`` of the codeword. Decoding starts from the
channel's soft sums: a bit never observed makes its byte an erasure; then the least reliable bytes
(reliability = the smallest |sum| of their 8 bits) are erased in growing numbers until the block
decodes (generalised minimum-distance decoding: an erasure costs half an error). A block that
decodes to a wrong word is caught later by authentication, never returned as a face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

from shared.domain.errors import BadInputError

RS_MAX = 255  # bytes per block over GF(256)
ERASE_STEP = 4  # extra erasures tried per decoding attempt


@dataclass(frozen=True)
class EccLayout:
    """How a message of ``message_bytes`` is spread over RS blocks."""

    message_bytes: int
    blocks: int
    data_bytes: int  # per block (the message is zero-padded to blocks * data_bytes)
    parity_bytes: int  # per block

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
    blocks = math.ceil(message_bytes * (1 + parity) / RS_MAX)
    data = math.ceil(message_bytes / blocks)
    return EccLayout(message_bytes, blocks, data, min(RS_MAX - data, max(2, round(data * parity))))


@lru_cache(maxsize=8)
def _codec(parity_bytes: int) -> RSCodec:
    return RSCodec(parity_bytes, nsize=RS_MAX)


def encode(message: bytes, layout: EccLayout) -> np.ndarray:
    """The codeword bits (uint8 0/1, ``layout.bits`` long) of a message of the planned length."""
    if len(message) != layout.message_bytes:
        raise BadInputError(f"message must be {layout.message_bytes} bytes, got {len(message)}")
    padded = message + bytes(layout.blocks * layout.data_bytes - len(message))
    codec = _codec(layout.parity_bytes)
    blocks = [
        bytes(codec.encode(padded[b * layout.data_bytes : (b + 1) * layout.data_bytes]))
        for b in range(layout.blocks)
    ]
    interleaved = np.frombuffer(b"".join(blocks), dtype=np.uint8)
    interleaved = interleaved.reshape(layout.blocks, -1).T.reshape(-1)  # byte i of block j -> i*B+j
    return np.unpackbits(interleaved)


def _decode_block(received: bytes, reliability: np.ndarray, parity: int) -> bytes | None:
    """Errors-and-erasures decoding, erasing more of the least reliable bytes at each try."""
    codec = _codec(parity)
    order = np.argsort(reliability, kind="stable")
    must = int(np.count_nonzero(reliability <= 0))
    if must > parity:
        return None
    for erased in range(must, parity + 1, ERASE_STEP):
        try:
            message, _, _ = codec.decode(received, erase_pos=sorted(order[:erased].tolist()))
        except ReedSolomonError:
            continue
        return bytes(message)
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
