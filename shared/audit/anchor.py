"""Anchors: the audit log's head copied, at intervals, to a store that cannot be rewritten.

A MAC per entry stops anyone without the audit key from editing or re-chaining the log, but not
from cutting entries off its end. So the private API copies the head (entry count and last hash)
to an append-only store (an S3 bucket with object lock, ``shared.adapters.s3_anchor``) every
``interval_s`` when it has moved, and once more on shutdown; ``verify`` then checks that the log
still holds every anchored head. Entries newer than the last anchor are covered by their MACs only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from shared.domain.errors import BadInputError
from shared.ports import AuditAnchor, AuditAnchorStore, AuditLog

log = logging.getLogger(__name__)


def anchor_key(anchor: AuditAnchor) -> str:
    """Object name of an anchor; sorts by entry count."""
    return f"{anchor.count:012d}-{anchor.head_hash[:16]}.json"


def anchor_to_json(anchor: AuditAnchor) -> bytes:
    """The stored form of an anchor."""
    data = {"count": anchor.count, "head_hash": anchor.head_hash, "at": anchor.at}
    return json.dumps(data, sort_keys=True).encode()


def anchor_from_json(data: bytes) -> AuditAnchor:
    """Parse a stored anchor; BadInputError when it is not one."""
    try:
        raw = json.loads(data)
        anchor = AuditAnchor(int(raw["count"]), str(raw["head_hash"]), float(raw["at"]))
    except (ValueError, KeyError, TypeError):
        raise BadInputError("an audit anchor object is not an anchor") from None
    if anchor.count < 0 or len(anchor.head_hash) != 64:
        raise BadInputError("an audit anchor object has a bad count or hash")
    return anchor


class AuditAnchorer:
    """Copies the log's head to the anchor store whenever it has moved (a background task)."""

    def __init__(
        self,
        audit: AuditLog,
        store: AuditAnchorStore,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.audit = audit
        self.store = store
        self.interval_s = interval_s
        self._clock = clock
        self._last: tuple[int, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def anchor_once(self) -> AuditAnchor | None:
        """Anchor the current head unless it is the one anchored last; returns what was written."""
        head = await self.audit.head()
        if head is None or head == self._last:
            return None
        anchor = AuditAnchor(head[0], head[1], self._clock())
        await self.store.put(anchor)
        self._last = head
        return anchor

    async def start(self) -> None:
        """Anchor now (so a store that refuses writes fails the start), then every interval."""
        await self.anchor_once()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the loop and anchor the final head; never holds a shutdown longer than
        ``timeout_s`` twice over (a wedged store only costs that final anchor).

        The loop is asked to stop between ticks rather than cancelled inside one: a Redis or S3
        call cancelled midway could leave a future no one completes, and the task with it."""
        if self._task is not None:
            self._stopping.set()
            _, pending = await asyncio.wait({self._task}, timeout=timeout_s)
            if pending:  # a tick is wedged: cancel it as a last resort
                self._task.cancel()
                await asyncio.wait(pending, timeout=timeout_s)
        try:
            await asyncio.wait_for(self._safely(), timeout_s)
        except TimeoutError:
            log.warning("final audit anchor not written within %.0f s", timeout_s)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except TimeoutError:
                await self._safely()

    async def _safely(self) -> None:
        try:
            await self.anchor_once()
        except Exception as err:  # a store outage must not stop the API; the next tick retries
            log.warning("audit anchor not written: %s", type(err).__name__)
