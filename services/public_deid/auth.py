"""Vendor authentication: API keys stored only as SHA-256 hashes, plus the per-key rate limit.

The keys file maps each key id to the SHA-256 hex of its key, or to ``{"sha256": hex, ...}`` with
that key's own limits (``max_upload_mb``, ``rate_per_minute``, ``jobs_per_day``); it is written by
``uunet apikey create`` and re-read when its modification time changes, so a new key works without
a restart. Keys are never logged; the key id is.
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


LIMIT_NAMES = ("max_upload_mb", "rate_per_minute", "jobs_per_day")


@dataclass(frozen=True)
class VendorLimits:
    """One key's own limits; None: the service-wide setting."""

    max_upload_mb: int | None = None
    rate_per_minute: int | None = None
    jobs_per_day: int | None = None


@dataclass(frozen=True)
class Vendor:
    """An authenticated caller: ``key_id`` is the name given at ``apikey create`` (rate limits,
    logs); ``owner`` identifies the key itself, so jobs belong to a key, not to a name that a new
    key (``apikey create --force``) can take over."""

    key_id: str
    owner: str
    limits: VendorLimits = VendorLimits()


def owner_of(key_hash: str) -> str:
    """The job-owner id of a key: a fingerprint of its stored hash (not the hash itself)."""
    return "key-" + hashlib.sha256(b"uunet-key-owner\0" + key_hash.encode()).hexdigest()[:32]


def hash_key(api_key: str) -> str:
    """SHA-256 hex of an API key (keys are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


KeyEntry = str | dict[str, object]  # the hash, or {"sha256": hash, <limit>: int, ...}


def read_keys_file(path: Path) -> dict[str, KeyEntry]:
    """``{key_id: entry}`` from ``path`` (ConfigError with the reason if unreadable)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"API keys file {path} does not exist") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"API keys file {path} is unreadable: {err}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and _valid_entry(v) for k, v in data.items()
    ):
        raise ConfigError(
            f"API keys file {path} must map key ids to sha256 hex digests "
            f"(or to objects with sha256 and optional {', '.join(LIMIT_NAMES)})"
        )
    return data


def _valid_entry(entry: object) -> bool:
    if isinstance(entry, str):
        return len(entry) == 64
    if not isinstance(entry, dict) or not _valid_entry(entry.get("sha256")):
        return False
    limits = {k: v for k, v in entry.items() if k != "sha256"}
    return all(k in LIMIT_NAMES and type(v) is int and v >= 0 for k, v in limits.items())


def entry_hash_and_limits(entry: KeyEntry) -> tuple[str, VendorLimits]:
    """The key hash and the limits of one (validated) keys-file entry."""
    if isinstance(entry, str):
        return entry, VendorLimits()
    limits = {k: v for k, v in entry.items() if k in LIMIT_NAMES}
    return str(entry["sha256"]), VendorLimits(**limits)  # type: ignore[arg-type]


class ApiKeys:
    """Looks up a presented key by its hash; ``path=None`` means no key is valid."""

    def __init__(self, path: Path | None, hashes: dict[str, str] | None = None) -> None:
        self.path = path
        self._mtime = -1.0
        self._by_hash: dict[str, Vendor] = {}
        if hashes is not None:
            self._by_hash = {h: Vendor(kid, owner_of(h)) for kid, h in hashes.items()}
        elif path is not None:
            self._reload()

    def _reload(self) -> None:
        assert self.path is not None
        mtime = self.path.stat().st_mtime if self.path.exists() else -1.0
        if mtime == self._mtime:
            return
        by_hash = {}
        for kid, entry in read_keys_file(self.path).items():
            digest, limits = entry_hash_and_limits(entry)
            by_hash[digest] = Vendor(kid, owner_of(digest), limits)
        self._by_hash = by_hash
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
        vendor = self._by_hash.get(hash_key(api_key.strip()))
        if vendor is None:
            raise AuthError("invalid API key")
        return vendor


@dataclass(frozen=True)
class Gate:
    """Authentication, the submission rate limit and the daily job quota, as one object the
    front ends share; a key's own limits override the service-wide ones."""

    keys: ApiKeys
    limiter: RateLimiter
    quota: RateLimiter | None = None

    def authenticate(self, api_key: str | None) -> Vendor:
        """The vendor owning ``api_key`` (AuthError otherwise)."""
        return self.keys.authenticate(api_key)

    async def admit_submission(self, vendor: Vendor) -> None:
        """Count one submission; RateLimitedError with Retry-After when over the limit or quota."""
        await self.limiter.hit(vendor.key_id, vendor.limits.rate_per_minute)
        if self.quota is not None:
            await self.quota.hit(vendor.key_id, vendor.limits.jobs_per_day)
