"""AuditLog in Redis: a list of JSON entries plus a head record, appended atomically.

Appends are compare-and-append: the caller reads the tail, chains its entry onto it and a Lua script
pushes it only if the tail is still the one read (else the caller retries), so concurrent API
replicas keep one unbroken chain. ``<prefix>:head`` holds ``"<count> <last hash>"``, which lets
``verify`` notice entries cut off the end of the list. Each entry is MACed under the audit key,
which Redis never sees, so whoever can write to Redis still cannot re-chain the log unnoticed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis

from shared.audit.chain import AuditRecord, from_json, next_entry, to_json
from shared.ports import AuditEntry

log = logging.getLogger(__name__)

# KEYS[1] list, KEYS[2] head; ARGV[1] the tail read ("" when empty), ARGV[2] entry, ARGV[3] head.
_APPEND_LUA = """
local tail = redis.call('LINDEX', KEYS[1], -1)
if tail == false then tail = '' end
if tail ~= ARGV[1] then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
return 1
"""
_MAX_TRIES = 200
_PAGE = 500


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisAuditLog:
    """Hash-chained audit log under ``<prefix>:entries`` and ``<prefix>:head``."""

    def __init__(
        self,
        redis: Redis,
        prefix: str = "uunet:audit",
        clock: Callable[[], float] = time.time,
        key: bytes | None = None,
    ) -> None:
        self.redis = redis
        self._key = key
        self.list_key = f"{prefix}:entries"
        self.head_key = f"{prefix}:head"
        self._clock = clock
        self._append = redis.register_script(_APPEND_LUA)

    async def append(
        self, *, actor: str, case_id: str, clip_sha256: str, tracks: str, outcome: str, detail: str
    ) -> AuditEntry:
        """Chain one entry onto the tail; retries while other writers win the race."""
        record = AuditRecord(actor, case_id, clip_sha256, tracks, outcome, detail)
        for attempt in range(_MAX_TRIES):
            raw_tail = await self.redis.lindex(self.list_key, -1)
            tail_text = "" if raw_tail is None else _text(raw_tail)
            prev = from_json(tail_text) if tail_text else None
            entry = next_entry(prev, record, self._clock(), self._key)
            head = f"{entry.seq + 1} {entry.entry_hash}"
            keys = [self.list_key, self.head_key]
            if await self._append(keys=keys, args=[tail_text, to_json(entry), head]):
                return entry
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
        raise RuntimeError(f"audit append lost the race {_MAX_TRIES} times")

    async def entries(self) -> AsyncIterator[AuditEntry]:
        """Every entry, oldest first (paged ``LRANGE``)."""
        start = 0
        while True:
            page = await self.redis.lrange(self.list_key, start, start + _PAGE - 1)
            for raw in page:
                yield from_json(_text(raw))
            if len(page) < _PAGE:
                return
            start += _PAGE

    async def raw_entries(self) -> list[str]:
        """The stored JSON lines as they are (export keeps them byte for byte)."""
        return [_text(raw) for raw in await self.redis.lrange(self.list_key, 0, -1)]

    async def head(self) -> tuple[int, str] | None:
        """``(count, last hash)`` recorded by the last append, or None for an empty log."""
        raw = await self.redis.get(self.head_key)
        if raw is None:
            return None
        count, _, last = _text(raw).partition(" ")
        return int(count), last
