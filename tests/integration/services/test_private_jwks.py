"""Token verification against a JWKS served over HTTP (PyJWKClient accepts only http/https URLs)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.private_reid.auth import AuthConfig, TokenRejected, TokenVerifier

pytestmark = pytest.mark.integration
ISSUER, AUDIENCE = "https://idp.test", "uunet-private"


@pytest.fixture(scope="module")
def issuer_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def jwks_url(issuer_key: Ed25519PrivateKey) -> Iterator[str]:
    jwk = json.loads(OKPAlgorithm.to_jwk(issuer_key.public_key())) | {"kid": "k1", "use": "sig"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def _token(key: Ed25519PrivateKey, kid: str = "k1", **extra: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "judge-1", "iat": now, "exp": now + 60}
    claims |= {"scope": "reconstruct", **extra}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def test_token_signed_by_a_jwks_key_is_accepted(
    jwks_url: str, issuer_key: Ed25519PrivateKey
) -> None:
    verifier = TokenVerifier(AuthConfig(ISSUER, AUDIENCE, jwks_url=jwks_url))
    principal = verifier.authenticate(f"Bearer {_token(issuer_key, cases=['C-1', 'C-2'])}")
    assert principal.subject == "judge-1" and principal.cases == {"C-1", "C-2"}
    assert "reconstruct" in principal.scopes


def test_unknown_kid_and_foreign_key_are_rejected(
    jwks_url: str, issuer_key: Ed25519PrivateKey
) -> None:
    verifier = TokenVerifier(AuthConfig(ISSUER, AUDIENCE, jwks_url=jwks_url))
    with pytest.raises(TokenRejected) as unknown:
        verifier.authenticate(f"Bearer {_token(issuer_key, kid='k9')}")
    assert unknown.value.code == "unknown-key"
    with pytest.raises(TokenRejected) as forged:
        verifier.authenticate(f"Bearer {_token(Ed25519PrivateKey.generate())}")
    assert forged.value.code == "bad-signature"
