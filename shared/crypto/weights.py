"""Encryption at rest of the private module's weights: AES-256-GCM under a key only the private side holds.

File layout (all of it authenticated, the header as associated data)::

    b"UUNETWK1"               8 bytes magic
    header length            4 bytes big-endian
    header                   UTF-8 JSON {"alg", "key_id", "nonce", "created_at", "meta"}
    ciphertext || tag        AES-256-GCM of the plaintext checkpoint bytes (16-byte tag)

``key_id`` is a short public fingerprint of the key, so a wrong key is told apart from a tampered
file. The key file holds 32 random bytes as base64 text (like ``deid_secret.key``), mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto.files import write_private
from shared.domain.errors import BadInputError, ConfigError, TamperedError, WrongKeyError

MAGIC = b"UUNETWK1"
ALG = "AES-256-GCM"
KEY_BYTES = 32
NONCE_BYTES = 12
_LEN = struct.Struct(">I")
_MAX_HEADER = 64 * 1024


def weights_key_id(key: bytes) -> str:
    """Public fingerprint of a weights key (16 hex chars); reveals nothing usable about the key."""
    return hashlib.sha256(b"uunet-weights-key\0" + key).hexdigest()[:16]


def generate_key_file(path: Path) -> str:
    """Write a fresh random key to ``path`` (mode 0600, refuses to overwrite); returns its id."""
    key = os.urandom(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"key file {path} already exists; refusing to overwrite it") from None
    except OSError as err:
        raise ConfigError(f"cannot create key file {path}: {err.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(key) + b"\n")
    return weights_key_id(key)


def load_key_file(path: Path | str | None) -> bytes:
    """Read a weights key file; :class:`ConfigError` with a one-line reason if missing or malformed."""
    if path is None or str(path) == "":
        raise ConfigError("no weights key file configured (WEIGHTS_KEY_FILE)")
    try:
        text = Path(path).read_bytes().strip()
    except OSError as err:
        raise ConfigError(f"cannot read weights key file {path}: {err.strerror}") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"weights key file {path} is not base64 text") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"weights key file {path} must hold {KEY_BYTES} bytes, not {len(key)}")
    return key


def encrypt_weights(plain: bytes, key: bytes, meta: Mapping[str, str] | None = None) -> bytes:
    """Seal checkpoint bytes; ``meta`` (model id, part...) is stored in the clear but authenticated."""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"weights key must be {KEY_BYTES} bytes")
    nonce = os.urandom(NONCE_BYTES)
    header = {
        "alg": ALG,
        "key_id": weights_key_id(key),
        "nonce": base64.b64encode(nonce).decode(),
        "created_at": time.time(),
        "meta": dict(meta or {}),
    }
    header_bytes = json.dumps(header, sort_keys=True).encode()
    aad = MAGIC + _LEN.pack(len(header_bytes)) + header_bytes
    return aad + AESGCM(key).encrypt(nonce, plain, aad)


def read_header(blob: bytes) -> tuple[dict[str, Any], int]:
    """Parse the clear header; returns it and the offset of the ciphertext."""
    start = len(MAGIC) + _LEN.size
    if len(blob) < start or not blob.startswith(MAGIC):
        raise BadInputError("not an encrypted UU-Net weights file (bad magic)")
    (length,) = _LEN.unpack_from(blob, len(MAGIC))
    if length > _MAX_HEADER or len(blob) < start + length + 16:
        raise BadInputError("encrypted weights file is truncated")
    try:
        header = json.loads(blob[start : start + length])
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadInputError("encrypted weights file has a corrupt header") from None
    if not isinstance(header, dict) or header.get("alg") != ALG:
        raise BadInputError(f"encrypted weights file: unsupported algorithm {header!r:.60}")
    return header, start + length


def decrypt_weights(blob: bytes, key: bytes) -> bytes:
    """Open sealed checkpoint bytes: WrongKeyError for another key, TamperedError for an edit."""
    header, offset = read_header(blob)
    if header.get("key_id") != weights_key_id(key):
        raise WrongKeyError(
            f"weights were encrypted under key {header.get('key_id')}, "
            f"not the configured key {weights_key_id(key)}"
        )
    try:
        nonce = base64.b64decode(str(header["nonce"]), validate=True)
        return AESGCM(key).decrypt(nonce, blob[offset:], blob[:offset])
    except (InvalidTag, KeyError, binascii.Error, ValueError):
        raise TamperedError("encrypted weights failed authentication (file edited)") from None


def encrypt_file(src: Path, dst: Path, key: bytes, meta: Mapping[str, str] | None = None) -> None:
    """Encrypt the file ``src`` into ``dst`` (written 0600)."""
    try:
        plain = src.read_bytes()
    except OSError as err:
        raise BadInputError(f"cannot read {src}: {err.strerror}") from None
    write_private(dst, encrypt_weights(plain, key, meta))


def decrypt_file(path: Path, key: bytes) -> bytes:
    """Read and open an encrypted weights file; ConfigError if it cannot be read."""
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read encrypted weights {path}: {err.strerror}") from None
    return decrypt_weights(blob, key)
