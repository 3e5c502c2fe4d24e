"""Sealed originals: round trip, wrong authority key, and tampering anywhere."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.crypto import seal
from shared.crypto.seal import SealWriter, open_bytes, open_stream, seal_bytes
from shared.domain.errors import TamperedError, WrongKeyError


@pytest.fixture
def authority() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def test_round_trip_small(authority: X25519PrivateKey) -> None:
    data = os.urandom(1000)
    sealed = seal_bytes(authority.public_key(), data)
    assert data not in sealed
    assert open_bytes(authority, sealed) == data


def test_round_trip_empty(authority: X25519PrivateKey) -> None:
    assert open_bytes(authority, seal_bytes(authority.public_key(), b"")) == b""


def test_round_trip_streams_several_chunks(
    authority: X25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seal, "CHUNK_BYTES", 64)
    data = os.urandom(64 * 5 + 3)
    out = io.BytesIO()
    writer = SealWriter(authority.public_key(), out)
    for i in range(0, len(data), 50):
        writer.write(data[i : i + 50])
    writer.close()
    chunks = list(open_stream(io.BytesIO(out.getvalue()), authority))
    assert len(chunks) == 6 and b"".join(chunks) == data


def test_two_seals_of_the_same_data_differ(authority: X25519PrivateKey) -> None:
    data = b"same face pixels"
    assert seal_bytes(authority.public_key(), data) != seal_bytes(authority.public_key(), data)


def test_wrong_authority_key_is_refused(authority: X25519PrivateKey) -> None:
    sealed = seal_bytes(authority.public_key(), b"secret faces")
    with pytest.raises(WrongKeyError):
        open_bytes(X25519PrivateKey.generate(), sealed)


def test_every_flipped_byte_is_tampering(
    authority: X25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seal, "CHUNK_BYTES", 32)
    sealed = seal_bytes(authority.public_key(), os.urandom(80))
    for index in range(len(sealed)):
        bad = bytearray(sealed)
        bad[index] ^= 0x01
        with pytest.raises(TamperedError):
            open_bytes(authority, bytes(bad))


def test_truncation_and_trailing_bytes_are_tampering(authority: X25519PrivateKey) -> None:
    sealed = seal_bytes(authority.public_key(), os.urandom(300))
    for cut in (10, seal.HEADER_BYTES, len(sealed) - 1):
        with pytest.raises(TamperedError):
            open_bytes(authority, sealed[:cut])
    with pytest.raises(TamperedError):
        open_bytes(authority, sealed + b"\x00")
