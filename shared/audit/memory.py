"""An in-process :class:`~shared.ports.AuditLog` (tests, and the ``uunet audit`` file tools)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from shared.audit.chain import AuditRecord, next_entry
from shared.ports import AuditEntry


class InMemoryAuditLog:
    """Append-only list of entries; an asyncio lock keeps concurrent appends in one chain."""

    def __init__(self, clock: Callable[[], float] = time.time, key: bytes | None = None) -> None:
        self._entries: list[AuditEntry] = []
        self._lock = asyncio.Lock()
        self._clock = clock
        self._key = key

    async def append(
        self, *, actor: str, case_id: str, clip_sha256: str, tracks: str, outcome: str, detail: str
    ) -> AuditEntry:
        """Chain a new entry onto the last one."""
        record = AuditRecord(actor, case_id, clip_sha256, tracks, outcome, detail)
        async with self._lock:
            prev = self._entries[-1] if self._entries else None
            entry = next_entry(prev, record, self._clock(), self._key)
            self._entries.append(entry)
        return entry

    async def entries(self) -> AsyncIterator[AuditEntry]:
        """Every entry, oldest first."""
        for entry in list(self._entries):
            yield entry

    async def head(self) -> tuple[int, str] | None:
        """``(count, last hash)``, or None for an empty log."""
        return (len(self._entries), self._entries[-1].entry_hash) if self._entries else None

    @property
    def snapshot(self) -> list[AuditEntry]:
        """A copy of the entries (tests edit it to simulate tampering)."""
        return list(self._entries)
