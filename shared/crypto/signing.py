"""Ed25519 signatures over a clip: the canonical manifest, the video bytes and the sealed payload.

The signed message is ``b"uunet-signature/v1\\0" || SHA-256(manifest) || SHA-256(video) ||
SHA-256(sealed payload or b"")``, so a change to any of the three (or moving a sealed payload from
another clip, which anyone holding the authority's public key could forge) breaks the signature.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.domain.errors import ConfigError, TamperedError

DOMAIN = b"uunet-signature/v1\x00"
SIGNATURE_BYTES = 64
EMPTY_SHA256 = hashlib.sha256(b"").digest()


def signed_message(
    manifest: bytes, video_sha256: bytes, sealed_sha256: bytes = EMPTY_SHA256
) -> bytes:
    """The byte string the signature covers (see module doc)."""
    if len(video_sha256) != 32 or len(sealed_sha256) != 32:
        raise ValueError("digests must be 32-byte SHA-256 values")
    return DOMAIN + hashlib.sha256(manifest).digest() + video_sha256 + sealed_sha256


def sign(
    key: Ed25519PrivateKey,
    manifest: bytes,
    video_sha256: bytes,
    sealed_sha256: bytes = EMPTY_SHA256,
) -> bytes:
    """64-byte Ed25519 signature over manifest, video hash and sealed-payload hash."""
    return key.sign(signed_message(manifest, video_sha256, sealed_sha256))


def verify(
    key: Ed25519PublicKey,
    signature: bytes,
    manifest: bytes,
    video_sha256: bytes,
    sealed_sha256: bytes = EMPTY_SHA256,
) -> None:
    """Raise TamperedError unless ``signature`` matches; returns None when it does."""
    try:
        key.verify(signature, signed_message(manifest, video_sha256, sealed_sha256))
    except InvalidSignature as err:
        raise TamperedError(
            "signature does not verify: the clip or its manifest was modified, "
            "or it was signed with another key set"
        ) from err


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file; ConfigError with a one-line reason otherwise."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    except (ValueError, TypeError):
        raise ConfigError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public key")
    return key
