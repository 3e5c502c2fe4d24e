"""Retention of job results: each result is deleted ``ttl_s`` after its job is done, or at once
when asked (the private side deletes a reconstruction once it has been downloaded).

Deletion removes the object, takes the result key off the job and marks it ``result_deleted``
(with the reason), then calls ``on_deleted`` (the private side audits it). Every worker may sweep:
the schedule's ``claim`` makes exactly one of them delete each result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.domain.jobs import JobState, JobStatus
from shared.ports import ExpiryIndex, JobStore, ObjectStore

log = logging.getLogger(__name__)

# (the job as it was, why) once its result is deleted
Deleted = Callable[[JobStatus, str], Awaitable[None]]


@dataclass
class ResultRetention:
    """Schedules, sweeps and deletes results of one service."""

    objects: ObjectStore
    jobs: JobStore
    index: ExpiryIndex
    ttl_s: float
    on_deleted: Deleted | None = None
    sweep_every_s: float = 30.0

    async def schedule(self, status: JobStatus) -> None:
        """Start the clock of a done job's result."""
        if status.state is JobState.DONE and status.result_key:
            await self.index.schedule(status.job_id, time.time() + self.ttl_s)

    async def delete_now(self, job_id: str, why: str) -> bool:
        """Delete the job's result (once, whoever asks first); False if it was not scheduled."""
        if not await self.index.claim(job_id):
            return False
        status = await self.jobs.get(job_id)
        if status is None or not status.result_key:
            return False  # the job record expired first; the lifecycle rule removes the object
        await self.objects.delete(status.result_key)
        await self.jobs.update(job_id, result_key=None, x_result_deleted=why)
        log.info("job %s: result deleted (%s)", job_id, why)
        if self.on_deleted is not None:
            await self.on_deleted(status, why)
        return True

    async def sweep_once(self, now: float | None = None) -> int:
        """Delete every result that is due; returns how many."""
        due = await self.index.due(time.time() if now is None else now)
        why = f"expired {self.ttl_s:.0f} s after the job was done"
        return sum([await self.delete_now(job_id, why) for job_id in due])

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Sweep every ``sweep_every_s`` until ``stop``; an outage only delays a sweep."""
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception as err:  # S3 or Redis down: the next sweep catches up
                log.warning("retention sweep failed (%s)", type(err).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_every_s)
