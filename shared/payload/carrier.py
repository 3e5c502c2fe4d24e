"""The whole payload chain for one track: face -> code -> sealed -> RS codeword bits, and back.

``PayloadFormat`` fixes every size both sides must agree on (code budget, parity, channel); the
reader derives the codeword length from it, so nothing but the pixels is needed to restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.domain.errors import BadInputError
from shared.payload import ecc
from shared.payload.cipher import PayloadHeader, clip_ref, open_sealed, seal, sealed_bytes
from shared.payload.code import CODE_WEBP, CodeOptions, decode_face, encode_face
from shared.payload.extract import SoftBits
from shared.payload.lattice import ChannelOptions


class PayloadUnreadableError(BadInputError):
    """The watermark of a track could not be read back (too damaged, too short, or absent)."""


@dataclass(frozen=True)
class PayloadFormat:
    """Every size the embedder and the reader share."""

    code: CodeOptions = field(default_factory=CodeOptions)
    parity: float = 1.0  # RS parity bytes per message byte
    channel: ChannelOptions = field(default_factory=ChannelOptions)

    @property
    def message_bytes(self) -> int:
        """Bytes of the sealed payload (header, code record, tag)."""
        return sealed_bytes(self.code.record_bytes)

    @property
    def ecc(self) -> ecc.EccLayout:
        """The Reed-Solomon layout of the sealed payload."""
        return ecc.plan(self.message_bytes, self.parity)

    @property
    def bits(self) -> int:
        """Codeword bits one track carries."""
        return self.ecc.bits


@dataclass(frozen=True)
class TrackIdentity:
    """Who sealed a track's code: key set id, clip id and track id."""

    key_id: str
    clip_id: str
    track_id: int


def track_codeword(secret: bytes, who: TrackIdentity, face_rgb: np.ndarray,
                   fmt: PayloadFormat | None = None) -> np.ndarray:  # fmt: skip
    """The codeword bits (uint8 0/1) a track carries: its face, coded, sealed, RS-encoded."""
    fmt = fmt or PayloadFormat()
    header = PayloadHeader(who.key_id, clip_ref(who.clip_id), who.track_id, CODE_WEBP)
    payload = seal(secret, header, encode_face(face_rgb, fmt.code))
    return ecc.encode(payload, fmt.ecc)


@dataclass(frozen=True)
class RecoveredCode:
    """A track's code read back from the pixels: the authenticated header and the thumbnail."""

    header: PayloadHeader
    face: np.ndarray  # RGB uint8 [size,size,3]


def read_codeword(soft: SoftBits | None, secret: bytes, key_id: str,
                  fmt: PayloadFormat | None = None) -> RecoveredCode:  # fmt: skip
    """Correct, authenticate, decrypt and decode; PayloadUnreadableError, WrongKeyError or
    TamperedError otherwise (never a face under a wrong key)."""
    fmt = fmt or PayloadFormat()
    if soft is None or soft.llr.size != fmt.bits:
        raise PayloadUnreadableError("no watermark was observed for this track")
    message = ecc.decode(soft.llr, soft.hits, fmt.ecc)
    if message is None:
        seen = float(np.mean(soft.hits > 0))
        raise PayloadUnreadableError(
            f"watermark too damaged or too short to correct ({seen:.0%} of its bits seen, "
            f"lattice score {soft.score:.2f})"
        )
    header, record = open_sealed(secret, key_id, message)
    if header.code_format != CODE_WEBP:
        raise BadInputError(f"unknown identity code format {header.code_format}")
    return RecoveredCode(header, decode_face(record, fmt.code))
