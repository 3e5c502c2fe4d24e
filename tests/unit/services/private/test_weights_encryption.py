"""Encrypted private-module weights: round trip, wrong key, tampering, bad key files."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.crypto.weights import (
    decrypt_file,
    decrypt_weights,
    encrypt_file,
    encrypt_weights,
    generate_key_file,
    load_key_file,
    read_header,
)
from shared.domain.errors import BadInputError, ConfigError, TamperedError, WrongKeyError


def test_round_trip_returns_the_same_bytes_and_keeps_meta(tmp_path: Path) -> None:
    key_file = tmp_path / "w.key"
    generate_key_file(key_file)
    key = load_key_file(key_file)
    src = tmp_path / "private.pt"
    src.write_bytes(b"\x00weights" * 1000)
    dst = tmp_path / "private.pt.enc"
    encrypt_file(src, dst, key, meta={"part": "private"})
    assert b"weights" not in dst.read_bytes()
    assert decrypt_file(dst, key) == src.read_bytes()
    assert read_header(dst.read_bytes())[0]["meta"] == {"part": "private"}
    assert dst.stat().st_mode & 0o777 == 0o600


def test_wrong_key_is_refused_with_wrong_key_error() -> None:
    blob = encrypt_weights(b"secret weights", b"k" * 32)
    with pytest.raises(WrongKeyError, match="encrypted under key"):
        decrypt_weights(blob, b"j" * 32)


def test_flipped_ciphertext_byte_is_tampered() -> None:
    blob = bytearray(encrypt_weights(b"secret weights", b"k" * 32))
    blob[-20] ^= 1
    with pytest.raises(TamperedError):
        decrypt_weights(bytes(blob), b"k" * 32)


def test_edited_header_meta_is_tampered() -> None:
    blob = encrypt_weights(b"w", b"k" * 32, meta={"part": "private"})
    edited = blob.replace(b'"private"', b'"public!"')
    with pytest.raises(TamperedError):
        decrypt_weights(edited, b"k" * 32)


def test_not_an_encrypted_file_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="magic"):
        decrypt_weights(b"PK\x03\x04 a zip checkpoint", b"k" * 32)


def test_missing_or_malformed_key_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="WEIGHTS_KEY_FILE"):
        load_key_file(None)
    with pytest.raises(ConfigError, match="cannot read"):
        load_key_file(tmp_path / "nope.key")
    short = tmp_path / "short.key"
    short.write_text("c2hvcnQ=\n")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_key_file(short)


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    key_file = tmp_path / "w.key"
    generate_key_file(key_file)
    with pytest.raises(ConfigError, match="already exists"):
        generate_key_file(key_file)
