"""Anonymous refusals, aggregated, so unauthenticated callers cannot grow the audit log at will.

The first refusal of each reason in a window is audited at once with its detail; the rest of that
window are counted (with how many client addresses) and audited as one summary entry when the
window ends: on the next refusal after it, or on shutdown. So a flood adds at most two entries per
reason per window and replica, and a lone bad request is still recorded as before. Refusals of
authenticated callers are not aggregated: each names its subject.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.ports import AuditLog

ANONYMOUS = "anonymous"
_MAX_CLIENTS = 10_000  # distinct addresses remembered per reason and window (then only counted)


@dataclass
class _Tally:
    count: int = 0
    clients: set[str] = field(default_factory=set)


class RefusalAggregator:
    """Audits anonymous refusals, one entry per reason per window plus one summary."""

    def __init__(
        self, audit: AuditLog, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.audit = audit
        self.window_s = window_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._started = clock()
        self._tallies: dict[str, _Tally] = {}

    async def refuse(self, code: str, client: str, detail: str) -> None:
        """Record one anonymous refusal (audited now if it is the first of its kind)."""
        async with self._lock:
            if self._clock() - self._started >= self.window_s:
                await self._flush()
            tally = self._tallies.get(code)
            if tally is None:
                self._tallies[code] = _Tally()
                await self._append(code, f"{detail} (from {client})"[:300])
                return
            tally.count += 1
            if len(tally.clients) < _MAX_CLIENTS:
                tally.clients.add(client)

    async def flush(self) -> None:
        """Audit the summaries of the current window and start a new one."""
        async with self._lock:
            await self._flush()

    async def _flush(self) -> None:
        elapsed = self._clock() - self._started
        for code, tally in self._tallies.items():
            if tally.count:
                clients = len(tally.clients)
                await self._append(
                    code,
                    f"{tally.count} more {code} refusals from {clients} client"
                    f"{'' if clients == 1 else 's'} in {elapsed:.0f} s",
                )
        self._tallies = {}
        self._started = self._clock()

    async def _append(self, code: str, detail: str) -> None:
        await self.audit.append(
            actor=ANONYMOUS,
            case_id="",
            clip_sha256="",
            tracks="",
            outcome=f"refused:{code}",
            detail=detail,
        )
