"""The sealed payload of a track: a cleartext header, then the code under AES-256-GCM-SIV.

``header (30) | ciphertext (len(code)) | tag (16)``

- header: ``version u8 | key_id 8 | clip_ref 16 | track_id u32 | code_format u8`` (big-endian). It
  is the associated data, so a flipped header bit fails authentication like a flipped ciphertext bit,
  and it carries everything restoration needs when a re-encoded clip has lost its manifest.
- key: HKDF-SHA256 over the key set's secret, info = ``clip_ref | track_id``: one key per track.
- nonce: fixed (zero). Every key encrypts one code, and AES-GCM-SIV (RFC 8452) stays safe even if a
  caller reuses a clip id: a reused nonce then reveals only whether two codes are equal, where plain
  AES-GCM or ChaCha20-Poly1305 would leak both plaintexts. No nonce bytes go through the channel.

A wrong key set is refused before decryption (the key id differs), and a matching id with a wrong
secret or any flipped bit fails authentication: no face is ever decoded from a wrong key.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.domain.errors import BadInputError, TamperedError, WrongKeyError

PAYLOAD_VERSION = 1
_HEADER = struct.Struct(">B8s16sIB")
HEADER_BYTES = _HEADER.size  # 30
TAG_BYTES = 16
_NONCE = bytes(12)
_SALT = b"uunet-payload/v1"
_HEX = re.compile(r"[0-9a-f]+")


def clip_ref(clip_id: str) -> bytes:
    """16 bytes naming the clip: the id itself when it is 32 hex digits (uuid4), else its hash."""
    text = clip_id.lower()
    if len(text) == 32 and _HEX.fullmatch(text):
        return bytes.fromhex(text)
    return hashlib.sha256(clip_id.encode()).digest()[:16]


@dataclass(frozen=True)
class PayloadHeader:
    """What a reader learns before decrypting: which key set, clip and track, and the code format."""

    key_id: str  # 16 hex digits (shared.crypto.keys.key_id)
    clip_ref: bytes  # 16 bytes (see clip_ref)
    track_id: int
    code_format: int
    version: int = PAYLOAD_VERSION

    def to_bytes(self) -> bytes:
        """The 30-byte header."""
        try:
            kid = bytes.fromhex(self.key_id)
        except ValueError as err:
            raise BadInputError("payload key id must be hex") from err
        if len(kid) != 8 or len(self.clip_ref) != 16 or not 0 <= self.track_id < 2**32:
            raise BadInputError("payload header fields out of range")
        return _HEADER.pack(self.version, kid, self.clip_ref, self.track_id, self.code_format)

    @classmethod
    def from_bytes(cls, data: bytes) -> PayloadHeader:
        """Parse the first 30 bytes; BadInputError on an unknown version."""
        if len(data) < HEADER_BYTES:
            raise BadInputError("payload shorter than its header")
        version, kid, ref, track, fmt = _HEADER.unpack(data[:HEADER_BYTES])
        if version != PAYLOAD_VERSION:
            raise BadInputError(f"unknown payload version {version}")
        return cls(kid.hex(), ref, track, fmt, version)

    @property
    def clip_hex(self) -> str:
        """The clip reference as 32 hex digits (the clip id itself for uuid4 ids)."""
        return self.clip_ref.hex()


def track_key(secret: bytes, ref: bytes, track_id: int) -> bytes:
    """The 32-byte AES key of one track of one clip."""
    info = b"uunet-track-code\x00" + ref + struct.pack(">I", track_id)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret)


def sealed_bytes(code_bytes: int) -> int:
    """Length of the sealed payload for a code of ``code_bytes``."""
    return HEADER_BYTES + code_bytes + TAG_BYTES


def seal(secret: bytes, header: PayloadHeader, code: bytes) -> bytes:
    """header | AES-GCM-SIV(code) | tag, the header authenticated as associated data."""
    head = header.to_bytes()
    key = track_key(secret, header.clip_ref, header.track_id)
    return head + AESGCMSIV(key).encrypt(_NONCE, code, head)


def open_sealed(secret: bytes, key_id: str, payload: bytes) -> tuple[PayloadHeader, bytes]:
    """Check the key id, then authenticate and decrypt; WrongKeyError or TamperedError otherwise."""
    header = PayloadHeader.from_bytes(payload)
    if header.key_id != key_id:
        raise WrongKeyError(f"payload was made with key set {header.key_id}, not {key_id}")
    if len(payload) < HEADER_BYTES + TAG_BYTES:
        raise TamperedError("payload is truncated")
    key = track_key(secret, header.clip_ref, header.track_id)
    head = payload[:HEADER_BYTES]
    try:
        code = AESGCMSIV(key).decrypt(_NONCE, payload[HEADER_BYTES:], head)
    except InvalidTag as err:
        raise TamperedError("payload failed authentication (tampered, or a wrong secret)") from err
    return header, code
