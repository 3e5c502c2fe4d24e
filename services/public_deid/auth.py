"""Vendor authentication: API keys stored only as SHA-256 hashes, plus the per-key rate limit.

The keys file is ``{key_id: sha256-hex}`` (written by ``uunet apikey create``); it is re-read when its
modification time changes, so a new key works without a restart. Keys are never logged; the key id is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from services.common.ratelimit import RateLimiter
from shared.domain.errors import AuthError, ConfigError

log = logging.getLogger(__name__)

KEY_PREFIX = "uuk_"


@dataclass(frozen=True)
class Vendor:
    """An authenticated caller: ``key_id`` is the name given at ``apikey create`` (rate limits,
    logs); ``owner`` identifies the key itself, so jobs belong to a key, not to a name that a new
    key (``apikey create --force``) can take over."""

    key_id: str
    owner: str


def owner_of(key_hash: str) -> str:
    """The job-owner id of a key: a fingerprint of its stored hash (not the hash itself)."""
    return "key-" + hashlib.sha256(b"uunet-key-owner\0" + key_hash.encode()).hexdigest()[:32]


def hash_key(api_key: str) -> str:
    """SHA-256 hex of an API key (keys are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def read_keys_file(path: Path) -> dict[str, str]:
    """``{key_id: sha256-hex}`` from ``path`` (ConfigError with the reason if unreadable)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"API keys file {path} does not exist") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"API keys file {path} is unreadable: {err}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in data.items()
    ):
        raise ConfigError(f"API keys file {path} must map key ids to sha256 hex digests")
    return data


class ApiKeys:
    """Looks up a presented key by its hash; ``path=None`` means no key is valid."""

    def __init__(self, path: Path | None, hashes: dict[str, str] | None = None) -> None:
        self.path = path
        self._mtime = -1.0
        self._by_hash: dict[str, str] = {}
        if hashes is not None:
            self._by_hash = {h: kid for kid, h in hashes.items()}
        elif path is not None:
            self._reload()

    def _reload(self) -> None:
        assert self.path is not None
        mtime = self.path.stat().st_mtime if self.path.exists() else -1.0
        if mtime == self._mtime:
            return
        self._by_hash = {h: kid for kid, h in read_keys_file(self.path).items()}
        self._mtime = mtime
        log.info("loaded %d API keys", len(self._by_hash))

    def authenticate(self, api_key: str | None) -> Vendor:
        """The vendor owning ``api_key``; AuthError if missing or unknown."""
        if not api_key:
            raise AuthError("missing API key (send it in the X-API-Key header)")
        if self.path is not None:
            try:
                self._reload()
            except ConfigError:
                log.exception("API keys file became unreadable; keeping the last good copy")
        digest = hash_key(api_key.strip())
        key_id = self._by_hash.get(digest)
        if key_id is None:
            raise AuthError("invalid API key")
        return Vendor(key_id, owner_of(digest))


@dataclass(frozen=True)
class Gate:
    """Authentication and the submission rate limit, as one object the front ends share."""

    keys: ApiKeys
    limiter: RateLimiter

    def authenticate(self, api_key: str | None) -> Vendor:
        """The vendor owning ``api_key`` (AuthError otherwise)."""
        return self.keys.authenticate(api_key)

    async def admit_submission(self, vendor: Vendor) -> None:
        """Count one submission; RateLimitedError with Retry-After when over the limit."""
        await self.limiter.hit(vendor.key_id)
