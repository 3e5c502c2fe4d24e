"""The sealed payload: round trip, wrong key refused, any flipped bit refused by authentication."""

from __future__ import annotations

import os

import pytest

from shared.domain.errors import BadInputError, TamperedError, WrongKeyError
from shared.payload.cipher import (
    HEADER_BYTES,
    PayloadHeader,
    clip_ref,
    open_sealed,
    seal,
    sealed_bytes,
)

KEY_ID = "0123456789abcdef"


@pytest.fixture
def header() -> PayloadHeader:
    return PayloadHeader(KEY_ID, clip_ref("00112233445566778899aabbccddeeff"), 7, 1)


def test_round_trip_returns_the_code_and_the_header(header: PayloadHeader) -> None:
    secret, code = os.urandom(32), os.urandom(258)
    payload = seal(secret, header, code)
    assert len(payload) == sealed_bytes(len(code))
    assert code not in payload
    got_header, got_code = open_sealed(secret, KEY_ID, payload)
    assert got_code == code and got_header == header


def test_a_payload_of_another_key_set_is_refused_before_decryption(header: PayloadHeader) -> None:
    payload = seal(os.urandom(32), header, b"code")
    with pytest.raises(WrongKeyError, match="key set 0123456789abcdef"):
        open_sealed(os.urandom(32), "fedcba9876543210", payload)


def test_a_wrong_secret_under_the_same_key_id_fails_authentication(header: PayloadHeader) -> None:
    payload = seal(os.urandom(32), header, b"code")
    with pytest.raises(TamperedError):
        open_sealed(os.urandom(32), KEY_ID, payload)


@pytest.mark.parametrize("where", ["header", "ciphertext", "tag"])
def test_every_flipped_bit_is_refused(header: PayloadHeader, where: str) -> None:
    secret = os.urandom(32)
    payload = bytearray(seal(secret, header, os.urandom(40)))
    first = {"header": 9, "ciphertext": HEADER_BYTES, "tag": len(payload) - 16}[where]
    last = {"header": HEADER_BYTES, "ciphertext": len(payload) - 16, "tag": len(payload)}[where]
    for i in range(first, last):
        for bit in (0, 7):
            flipped = bytearray(payload)
            flipped[i] ^= 1 << bit
            with pytest.raises(TamperedError):
                open_sealed(secret, KEY_ID, bytes(flipped))


def test_tracks_and_clips_get_different_keys(header: PayloadHeader) -> None:
    secret, code = os.urandom(32), b"same code"
    other_track = PayloadHeader(KEY_ID, header.clip_ref, 8, 1)
    other_clip = PayloadHeader(KEY_ID, clip_ref("another clip"), 7, 1)
    bodies = {seal(secret, h, code)[HEADER_BYTES:] for h in (header, other_track, other_clip)}
    assert len(bodies) == 3


def test_header_fields_round_trip_and_bad_versions_are_refused(header: PayloadHeader) -> None:
    raw = header.to_bytes()
    assert len(raw) == HEADER_BYTES and PayloadHeader.from_bytes(raw) == header
    assert header.clip_hex == "00112233445566778899aabbccddeeff"
    with pytest.raises(BadInputError, match="version"):
        PayloadHeader.from_bytes(b"\x09" + raw[1:])
    with pytest.raises(BadInputError):
        PayloadHeader("not hex", header.clip_ref, 1, 1).to_bytes()


def test_clip_ref_keeps_uuid_ids_and_hashes_others() -> None:
    assert clip_ref("00112233445566778899AABBCCDDEEFF").hex() == "00112233445566778899aabbccddeeff"
    assert len(clip_ref("job-17")) == 16 and clip_ref("job-17") != clip_ref("job-18")
