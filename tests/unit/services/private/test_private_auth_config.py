"""TokenVerifier configuration: algorithms follow the key type; unsafe setups refuse to start."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from services.private_reid.auth import AuthConfig, TokenRejected, TokenVerifier
from shared.domain.errors import ConfigError


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {"iss": "i", "aud": "a", "sub": "s", "iat": now, "exp": now + 60, "scope": "reconstruct"}


def test_es256_key_verifies_es256_tokens_only() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    verifier = TokenVerifier(AuthConfig("i", "a", public_key_pem=_pem(key)))
    assert verifier.authenticate(f"Bearer {jwt.encode(_claims(), key, algorithm='ES256')}")
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(TokenRejected) as err:
        verifier.authenticate(f"Bearer {jwt.encode(_claims(), other, algorithm='EdDSA')}")
    assert err.value.code == "algorithm-not-allowed"


def test_no_key_source_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY_FILE or JWKS_URL"):
        TokenVerifier(AuthConfig("i", "a"))


def test_symmetric_algorithms_are_never_allowed() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(ConfigError, match="EdDSA, RS256, ES256"):
        TokenVerifier(AuthConfig("i", "a", public_key_pem=_pem(key), algorithms=("HS256",)))


def test_key_type_outside_the_allowed_list_is_a_config_error() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ConfigError, match="needs RS256"):
        TokenVerifier(AuthConfig("i", "a", public_key_pem=_pem(key), algorithms=("EdDSA",)))


def test_garbage_key_file_and_missing_issuer_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not a PEM public key"):
        TokenVerifier(AuthConfig("i", "a", public_key_pem=b"-----BEGIN nonsense"))
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(ConfigError, match="JWT_ISSUER"):
        TokenVerifier(AuthConfig("", "a", public_key_pem=_pem(key)))
