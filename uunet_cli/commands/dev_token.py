"""``uunet dev-token``: a bearer token for the private service, signed by the dev issuer of ``uunet up``.

The dev issuer key is ``DIR/dev-issuer.pem`` (Ed25519 -> EdDSA, preferred; an RSA key -> RS256),
its public half ``DIR/dev-issuer.pub.pem`` is what the dev private service verifies against.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from typing import Any

from shared.domain.errors import ConfigError

ISSUER_KEY = "dev-issuer.pem"
ISSUER_PUB = "dev-issuer.pub.pem"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from services.private_reid.auth import DEV_AUDIENCE, DEV_ISSUER, SCOPE

    p = sub.add_parser(
        "dev-token",
        help="print a JWT for the dev private service (signed by DIR/dev-issuer.pem)",
        description="Print a bearer token for the private service of `uunet up --dev`: a JWT "
        "bound to one case, signed by the dev issuer key in --state-dir.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--state-dir", type=Path, required=True, help="state dir of `uunet up --dev`")
    p.add_argument("--case", required=True, help="case reference the token is bound to")
    p.add_argument("--scope", default=SCOPE, help="space-separated scopes")
    p.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    p.add_argument("--sub", default="dev-officer", help="subject (who the audit log names)")
    p.add_argument("--issuer", default=DEV_ISSUER, help="iss claim")
    p.add_argument("--audience", default=DEV_AUDIENCE, help="aud claim")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from services.private_reid.auth import DEFAULT_MAX_LIFETIME_S, SCOPE_ANY_CASE

    if not 0 < args.ttl <= DEFAULT_MAX_LIFETIME_S:
        raise ConfigError(f"--ttl must be 1..{DEFAULT_MAX_LIFETIME_S} s (the services' maximum)")
    if not args.case.strip():
        raise ConfigError("--case must name a case")
    if SCOPE_ANY_CASE in args.scope.split():
        raise ConfigError(f"the dev issuer never grants {SCOPE_ANY_CASE!r} (every case)")
    key = load_issuer_key(args.state_dir / ISSUER_KEY)
    claims = dev_claims(args.sub, args.case, args.scope, args.ttl, args.issuer, args.audience)
    print(sign(claims, key))
    return 0


def dev_claims(
    sub: str, case: str, scope: str, ttl: int, issuer: str, audience: str
) -> dict[str, Any]:
    """The claims of a dev token (``case_id`` binds it to one case)."""
    now = int(time.time())
    return {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "scope": scope,
        "case_id": case,
    }


def load_issuer_key(path: Path) -> Any:
    """The dev issuer's private key; ConfigError if missing or not Ed25519/RSA PEM."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as err:
        raise ConfigError(
            f"cannot read dev issuer key {path}: {err.strerror} (run `uunet up --dev` first)"
        ) from None
    except (ValueError, TypeError):
        raise ConfigError(f"dev issuer key {path} is not an unencrypted PEM private key") from None


def sign(claims: dict[str, Any], key: Any) -> str:
    """Sign with EdDSA for an Ed25519 key, RS256 for an RSA key."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256"
    else:
        raise ConfigError("dev issuer key must be Ed25519 or RSA")
    return jwt.encode(claims, key, algorithm=algorithm)
