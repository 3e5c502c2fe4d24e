"""Bearer-token (JWT) checks of the private service: who is calling, and may they reconstruct this case.

Algorithms are pinned by the key's type (Ed25519 -> EdDSA, RSA -> RS256, EC P-256 -> ES256) and
intersected with the configured list, so ``alg=none`` and HS256-with-the-public-key forgeries are
refused before any signature maths. Claims ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are
required. A missing or invalid token is :class:`TokenRejected` (401); a valid token without the
``reconstruct`` scope or for another case is :class:`Forbidden` (403).

Case binding fails closed: a token must name at least one non-empty case (``case_id`` or ``cases``,
a string or a list of strings); a missing or empty claim binds to nothing, and a claim of another
type is malformed. Only the explicit ``reconstruct:any`` scope, which the dev issuer never grants,
reaches every case.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from shared.domain.errors import AuthError, BadInputError, ConfigError

log = logging.getLogger(__name__)

DEV_ISSUER = "uunet-dev-issuer"
DEV_AUDIENCE = "uunet-private"
SCOPE = "reconstruct"
SCOPE_ANY_CASE = "reconstruct:any"  # every case; an identity provider must grant it on purpose
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
ASYMMETRIC_ALGORITHMS = ("EdDSA", "RS256", "ES256")
DEFAULT_MAX_LIFETIME_S = 4 * 3600  # above the usual identity providers' 1-1.5 h access tokens


class TokenRejected(AuthError):
    """401: no token, or one that is malformed, forged, expired or not meant for us."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Forbidden(AuthError):
    """403: a genuine token that may not do this (no ``reconstruct`` scope, another case)."""

    def __init__(self, code: str, message: str, subject: str) -> None:
        super().__init__(message)
        self.code = code
        self.subject = subject


@dataclass(frozen=True)
class AuthConfig:
    """Where the issuer's public key comes from and what the tokens must say."""

    issuer: str
    audience: str
    public_key_pem: bytes | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ASYMMETRIC_ALGORITHMS
    leeway_s: int = 30
    max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S  # exp - iat; a leaked token ages out


@dataclass(frozen=True)
class Principal:
    """The verified caller: subject, scopes and the cases the token is bound to (empty: none)."""

    subject: str
    scopes: frozenset[str]
    cases: frozenset[str]

    @property
    def may_reconstruct(self) -> bool:
        """Whether the token carries a reconstruction scope at all."""
        return bool({SCOPE, SCOPE_ANY_CASE} & self.scopes)

    @property
    def any_case(self) -> bool:
        """Only the explicit ``reconstruct:any`` scope lifts the case binding."""
        return SCOPE_ANY_CASE in self.scopes

    def may_see(self, case_id: str) -> bool:
        """Whether this token is bound to ``case_id`` (an unbound token sees no case)."""
        return self.any_case or case_id in self.cases


def algorithm_for_key(key: object) -> str:
    """The one JWS algorithm a public key may verify."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return "ES256"
    raise ConfigError(f"unsupported JWT issuer key type {type(key).__name__}")


def _names(claims: dict[str, Any], name: str) -> frozenset[str]:
    """A claim that is a space-separated string or a list of strings, as a set of non-empty names.

    Absent means empty; any other type (a number, an object, a list of numbers) is a malformed
    token rather than an empty set, so a mistyped claim can never widen what a token may do.
    """
    value = claims.get(name)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(v.strip() for v in value if v.strip())
    raise TokenRejected("bad-claim", f"token claim {name!r} must be a string or a list of strings")


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise TokenRejected("missing-token", "missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("malformed-token", "authorization must be 'Bearer <token>'")
    return token.strip()


_PYJWT_CODES: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "token expired"),
    (jwt.InvalidIssuerError, "wrong-issuer", "token issuer not accepted"),
    (jwt.InvalidAudienceError, "wrong-audience", "token audience not accepted"),
    (jwt.MissingRequiredClaimError, "missing-claim", "token lacks a required claim"),
    (jwt.ImmatureSignatureError, "not-yet-valid", "token not valid yet"),
    (jwt.InvalidAlgorithmError, "algorithm-not-allowed", "token algorithm not allowed"),
    (jwt.InvalidSignatureError, "bad-signature", "token signature does not verify"),
    (jwt.PyJWKClientError, "unknown-key", "token signing key not found in the JWKS"),
)


def _rejection(err: jwt.PyJWTError) -> TokenRejected:
    for kind, code, message in _PYJWT_CODES:
        if isinstance(err, kind):
            if isinstance(err, jwt.MissingRequiredClaimError):
                message = f"token lacks the required claim {err.claim!r}"
            return TokenRejected(code, message)
    return TokenRejected("malformed-token", "token is malformed")


class TokenVerifier:
    """Verifies bearer tokens against one public key or a JWKS endpoint."""

    def __init__(self, config: AuthConfig) -> None:
        if not config.issuer or not config.audience:
            raise ConfigError("JWT_ISSUER and JWT_AUDIENCE must be set")
        allowed = tuple(a for a in config.algorithms if a in ASYMMETRIC_ALGORITHMS)
        if not allowed:
            raise ConfigError("JWT algorithms must include one of EdDSA, RS256, ES256")
        self._config = config
        self._key: object | None = None
        self._jwks: jwt.PyJWKClient | None = None
        if config.public_key_pem is not None:
            try:
                self._key = serialization.load_pem_public_key(config.public_key_pem)
            except ValueError:
                raise ConfigError("JWT public key file is not a PEM public key") from None
            algorithm = algorithm_for_key(self._key)
            if algorithm not in allowed:
                raise ConfigError(f"JWT key needs {algorithm}, which is not in the allowed list")
            self._algorithms: tuple[str, ...] = (algorithm,)
        elif config.jwks_url:
            self._jwks = jwt.PyJWKClient(config.jwks_url, cache_keys=True, lifespan=300)
            self._algorithms = allowed
        else:
            raise ConfigError("set JWT_PUBLIC_KEY_FILE or JWKS_URL for the private service")

    @property
    def uses_network(self) -> bool:
        """True when verification may fetch a JWKS (callers then run it in a thread)."""
        return self._jwks is not None

    def _key_for(self, token: str, header: dict[str, Any]) -> tuple[object, tuple[str, ...]]:
        if self._jwks is None:
            return self._key, self._algorithms
        jwk = self._jwks.get_signing_key_from_jwt(token)
        if jwk.key_type not in ("OKP", "RSA", "EC"):
            raise TokenRejected("algorithm-not-allowed", "JWKS key is not an asymmetric key")
        return jwk.key, (algorithm_for_key(jwk.key),)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """401 for a token issued to live longer than ``max_lifetime_s`` (a 10-year ``exp``)."""
        try:
            lifetime = float(claims["exp"]) - float(claims["iat"])
        except (TypeError, ValueError):
            raise TokenRejected("malformed-token", "token exp/iat are not numbers") from None
        if lifetime > self._config.max_lifetime_s:
            raise TokenRejected(
                "lifetime-too-long",
                f"token lifetime exceeds {self._config.max_lifetime_s} s (exp - iat)",
            )

    def authenticate(self, authorization: str | None) -> Principal:
        """The verified caller of an ``Authorization`` header; :class:`TokenRejected` if none."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._algorithms:
                raise TokenRejected("algorithm-not-allowed", "token algorithm not allowed")
            key, algorithms = self._key_for(token, header)
            if header["alg"] not in algorithms:
                raise TokenRejected("algorithm-not-allowed", "token algorithm does not fit the key")
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=list(algorithms),
                audience=self._config.audience,
                issuer=self._config.issuer,
                leeway=self._config.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as err:
            raise _rejection(err) from None
        self._check_lifetime(claims)
        scopes = _names(claims, "scope") | _names(claims, "scp")
        cases = _names(claims, "case_id") | _names(claims, "cases")
        return Principal(subject=str(claims["sub"]), scopes=scopes, cases=cases)


def check_token_scope(principal: Principal) -> None:
    """403 unless the token may reconstruct and is bound to at least one case (or to any)."""
    if not principal.may_reconstruct:
        raise Forbidden("missing-scope", f"token lacks the {SCOPE!r} scope", principal.subject)
    if not principal.cases and not principal.any_case:
        raise Forbidden("no-case", "token is not bound to any case", principal.subject)


def authorize(principal: Principal, case_id: str | None) -> str:
    """Check scope and case binding; returns the case id. 403 or 400 (no case) otherwise."""
    check_token_scope(principal)
    case = (case_id or "").strip()
    if not case:
        raise BadInputError("case_id is required")
    if not principal.may_see(case):
        raise Forbidden("case-mismatch", "token is not valid for this case", principal.subject)
    return case
