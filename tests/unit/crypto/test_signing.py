"""Signatures over manifest + video hash + sealed hash detect any single flipped byte."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.crypto.signing import sign, verify
from shared.domain.errors import TamperedError

MANIFEST = b'{"clip_id":"c1","faces":[[0,1,10,12,20,20]]}'
VIDEO = bytes(range(256)) * 4


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_valid_signature_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    sig = sign(key, MANIFEST, _sha(VIDEO))
    verify(key.public_key(), sig, MANIFEST, _sha(VIDEO))  # no exception


@pytest.mark.parametrize("index", [0, 7, len(MANIFEST) // 2, len(MANIFEST) - 1])
def test_any_flipped_manifest_byte_is_detected(index: int) -> None:
    key = Ed25519PrivateKey.generate()
    sig = sign(key, MANIFEST, _sha(VIDEO))
    bad = bytearray(MANIFEST)
    bad[index] ^= 0x01
    with pytest.raises(TamperedError):
        verify(key.public_key(), sig, bytes(bad), _sha(VIDEO))


def test_every_flipped_video_byte_is_detected() -> None:
    key = Ed25519PrivateKey.generate()
    sig = sign(key, MANIFEST, _sha(VIDEO))
    for index in range(0, len(VIDEO), 37):
        bad = bytearray(VIDEO)
        bad[index] ^= 0x80
        with pytest.raises(TamperedError):
            verify(key.public_key(), sig, MANIFEST, _sha(bytes(bad)))


def test_swapped_sealed_payload_is_detected() -> None:
    key = Ed25519PrivateKey.generate()
    sig = sign(key, MANIFEST, _sha(VIDEO), _sha(b"sealed one"))
    with pytest.raises(TamperedError):
        verify(key.public_key(), sig, MANIFEST, _sha(VIDEO), _sha(b"sealed two"))


def test_flipped_signature_byte_and_other_key_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    sig = bytearray(sign(key, MANIFEST, _sha(VIDEO)))
    with pytest.raises(TamperedError):
        verify(Ed25519PrivateKey.generate().public_key(), bytes(sig), MANIFEST, _sha(VIDEO))
    sig[10] ^= 0x04
    with pytest.raises(TamperedError):
        verify(key.public_key(), bytes(sig), MANIFEST, _sha(VIDEO))
