"""The anchoring loop stops between ticks: a Redis or S3 call is never cancelled halfway."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.audit.anchor import AuditAnchorer
from shared.ports import AuditAnchor


class SlowLog:
    """A log whose head moves on every read and takes a while to answer (a tick in flight)."""

    def __init__(self) -> None:
        self.count = 0
        self.cancelled_reads = 0

    async def head(self) -> tuple[int, str]:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.cancelled_reads += 1
            raise
        self.count += 1
        return self.count, f"{self.count:064x}"

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


class Store:
    def __init__(self) -> None:
        self.puts: list[AuditAnchor] = []

    async def put(self, anchor: AuditAnchor) -> None:
        self.puts.append(anchor)

    async def anchors(self) -> list[AuditAnchor]:
        return list(self.puts)


async def test_stop_ends_the_loop_between_ticks_and_writes_the_final_anchor() -> None:
    log, store = SlowLog(), Store()
    anchorer = AuditAnchorer(log, store, interval_s=0.01)  # type: ignore[arg-type]
    await anchorer.start()
    await asyncio.sleep(0.2)  # several ticks, one likely in flight now
    ticks = len(store.puts)
    await anchorer.stop(timeout_s=5)
    assert anchorer._task is not None and anchorer._task.done()
    assert not anchorer._task.cancelled()
    assert log.cancelled_reads == 0  # no read was cut off midway
    assert len(store.puts) >= ticks + 1  # the final head was anchored too
