"""Sealed originals: data encrypted so that only the authority (X25519 private key) can open it.

Layout (all integers big-endian)::

    header   = MAGIC(8) || authority_key_id(16 ASCII hex) || ephemeral_pub(32) || wrap_nonce(12)
               || wrapped_key(32 + 16 tag) || chunk_nonce_prefix(8) || SHA-256(previous fields)
    chunks   = repeated: length u32 || AES-256-GCM(data_key, prefix || counter u32, plaintext,
               aad = SHA-256(header) || counter u32 || final flag u8)

The per-clip data key is random; it is wrapped with a key-encryption key derived by HKDF-SHA256 from
X25519(ephemeral, authority) (salt = ephemeral_pub || authority_pub). Chunked AEAD (the STREAM
construction) keeps memory bounded, and the final flag in the AAD makes truncation detectable. The
public side holds only the authority's public key, so it can seal but never open.
A wrong authority key gives WrongKeyError; any modified byte gives TamperedError.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.crypto.keys import authority_key_id
from shared.domain.errors import TamperedError, WrongKeyError

MAGIC = b"UUSEAL1\x00"
CHUNK_BYTES = 1 << 20
_FIELDS = 8 + 16 + 32 + 12 + 48 + 8
HEADER_BYTES = _FIELDS + 32
_HKDF_INFO = b"uunet-seal-kek/v1"


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _kek(shared: bytes, eph_pub: bytes, auth_pub: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub + auth_pub, info=_HKDF_INFO)
    return hkdf.derive(shared)


def _aad(header_hash: bytes, counter: int, final: bool) -> bytes:
    return header_hash + struct.pack(">IB", counter, int(final))


class SealWriter:
    """Encrypts a byte stream to the authority's public key, writing chunks to ``out``."""

    def __init__(self, authority_public: X25519PublicKey, out: BinaryIO) -> None:
        self._out = out
        data_key = AESGCM.generate_key(bit_length=256)
        eph = X25519PrivateKey.generate()
        eph_pub, auth_pub = _raw(eph.public_key()), _raw(authority_public)
        wrap_nonce, self._prefix = os.urandom(12), os.urandom(8)
        kid = authority_key_id(authority_public).encode("ascii")
        head = MAGIC + kid + eph_pub + wrap_nonce
        kek = _kek(eph.exchange(authority_public), eph_pub, auth_pub)
        wrapped = AESGCM(kek).encrypt(wrap_nonce, data_key, head)
        fields = head + wrapped + self._prefix
        header = fields + hashlib.sha256(fields).digest()
        self._hash = hashlib.sha256(header).digest()
        self._aead = AESGCM(data_key)
        self._buf = bytearray()
        self._counter = 0
        self._closed = False
        out.write(header)

    def write(self, data: bytes) -> None:
        """Buffer ``data``; full chunks are encrypted and written out at once."""
        if self._closed:
            raise ValueError("SealWriter is closed")
        self._buf += data
        while len(self._buf) > CHUNK_BYTES:  # keep at least one byte back for the final chunk
            self._emit(bytes(self._buf[:CHUNK_BYTES]), final=False)
            del self._buf[:CHUNK_BYTES]

    def close(self) -> None:
        """Write the final chunk (possibly empty); the stream is then complete."""
        if not self._closed:
            self._emit(bytes(self._buf), final=True)
            self._buf.clear()
            self._closed = True

    def _emit(self, plain: bytes, final: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._counter)
        cipher = self._aead.encrypt(nonce, plain, _aad(self._hash, self._counter, final))
        self._out.write(struct.pack(">I", len(cipher)) + cipher)
        self._counter += 1


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise TamperedError("sealed payload is truncated")
    return data


def _open_header(src: BinaryIO, authority_private: X25519PrivateKey) -> tuple[AESGCM, bytes, bytes]:
    header = _read_exact(src, HEADER_BYTES)
    fields, check = header[:_FIELDS], header[_FIELDS:]
    if fields[:8] != MAGIC or hashlib.sha256(fields).digest() != check:
        raise TamperedError("sealed payload header is damaged")
    kid = fields[8:24]
    eph_pub, wrap_nonce = fields[24:56], fields[56:68]
    wrapped, prefix = fields[68:116], fields[116:124]
    auth_public = authority_private.public_key()
    if kid != authority_key_id(auth_public).encode("ascii"):
        raise WrongKeyError(
            f"sealed to authority key {kid.decode('ascii', 'replace')}, "
            f"not {authority_key_id(auth_public)}"
        )
    eph = X25519PublicKey.from_public_bytes(eph_pub)
    kek = _kek(authority_private.exchange(eph), eph_pub, _raw(auth_public))
    try:
        data_key = AESGCM(kek).decrypt(wrap_nonce, wrapped, fields[:56] + wrap_nonce)
    except InvalidTag as err:
        raise TamperedError("sealed payload key does not unwrap (modified)") from err
    return AESGCM(data_key), prefix, hashlib.sha256(header).digest()


def open_stream(src: BinaryIO, authority_private: X25519PrivateKey) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk; WrongKeyError or TamperedError on failure."""
    aead, prefix, header_hash = _open_header(src, authority_private)
    counter = 0
    while True:
        length = struct.unpack(">I", _read_exact(src, 4))[0]
        if length < 16 or length > CHUNK_BYTES + 16:
            raise TamperedError("sealed payload chunk has an invalid length")
        cipher = _read_exact(src, length)
        nonce = prefix + struct.pack(">I", counter)
        for final in (False, True):
            try:
                plain = aead.decrypt(nonce, cipher, _aad(header_hash, counter, final))
            except InvalidTag:
                continue
            break
        else:
            raise TamperedError("sealed payload chunk was modified")
        yield plain
        if final:
            if src.read(1):
                raise TamperedError("sealed payload has trailing data")
            return
        counter += 1


def seal_bytes(authority_public: X25519PublicKey, data: bytes) -> bytes:
    """Seal ``data`` in memory (small payloads and tests)."""
    out = io.BytesIO()
    writer = SealWriter(authority_public, out)
    writer.write(data)
    writer.close()
    return out.getvalue()


def open_bytes(authority_private: X25519PrivateKey, sealed: bytes) -> bytes:
    """Open what :func:`seal_bytes` produced; WrongKeyError or TamperedError on failure."""
    return b"".join(open_stream(io.BytesIO(sealed), authority_private))
