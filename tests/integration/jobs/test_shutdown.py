"""Worker shutdown against real Redis: a job in flight finishes within the drain, or it is handed
back to the stream at once (another worker runs it without waiting for the visibility timeout).

The handlers run their work in a thread through the same bridge the real workers use
(``run_in_thread``), so a hand-back stops the thread as it stops the pipeline.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from services.common.jobthread import Progress, run_in_thread
from services.common.metrics import JobMetrics
from services.common.worker import WorkerProcess, run_worker
from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.runner import JobContext, JobRunner, RunnerOptions

pytestmark = pytest.mark.integration

# Far longer than any test: a job that comes back sooner was handed back, not reclaimed.
NEVER_MS = 600_000


class SlowJob:
    """A handler whose work (in a thread) reports progress until released or given up."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finish = threading.Event()
        self.thread_ended = threading.Event()
        self.runs: list[tuple[str, int]] = []

    async def __call__(self, ctx: JobContext) -> str:
        self.runs.append((ctx.job_id, ctx.attempt))
        self.started.set()
        return await run_in_thread(ctx, self._work)

    def _work(self, progress: Progress) -> str:
        try:
            for step in range(1, 10_000):
                if self.finish.wait(0.01):
                    return "out/result.mp4"
                progress(min(step / 1000, 0.9))  # raises once the job is given up
            return "out/result.mp4"
        finally:
            self.thread_ended.set()


async def _assert_back_in_the_stream(
    queue: RedisStreamQueue, store: RedisJobStore, job_id: str
) -> None:
    """Queued again, waiting in the stream, nothing left pending with the stopped consumer."""
    status = await store.get(job_id)
    assert status is not None and status.state is JobState.QUEUED
    assert await queue.pending() == 0 and await queue.lag() == 1


async def _submit(queue: RedisStreamQueue, store: RedisJobStore, job_id: str) -> None:
    await store.create(JobStatus(job_id=job_id))
    await queue.enqueue({"job_id": job_id, "attempt": "2"})


def _worker(
    queue: RedisStreamQueue, store: RedisJobStore, job: SlowJob, drain_s: float
) -> WorkerProcess:
    registry = CollectorRegistry()
    options = RunnerOptions(consumer="w-stopping", visibility_timeout_ms=NEVER_MS, block_ms=50)
    return WorkerProcess(
        queue=queue,
        store=store,
        handler=job,
        options=options,
        metrics=JobMetrics(registry, "uunet_test"),
        registry=registry,
        metrics_port=None,
        drain_s=drain_s,
    )


async def test_release_hands_a_message_to_the_next_reader_at_once(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    await _submit(queue, store, "rel1")
    (first,) = await queue.read("w1", 1, 50)
    await queue.release(first, {"attempt": "2"})
    assert await queue.pending() == 0 and await queue.lag() == 1
    (again,) = await queue.read("w2", 1, 50)
    assert again.fields == {"job_id": "rel1", "attempt": "2"} and again.msg_id != first.msg_id


async def test_stopping_worker_hands_its_job_back_after_the_drain(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    job = SlowJob()
    await _submit(queue, store, "long1")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(_worker(queue, store, job, drain_s=0.3), stop))
    await asyncio.wait_for(job.started.wait(), 10)
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    stop.set()  # what SIGTERM does
    await asyncio.wait_for(worker, 10)
    stopped_after = time.monotonic() - t0
    assert 0.3 <= stopped_after < 5, stopped_after
    assert job.thread_ended.wait(5), "the pipeline thread must stop with its job"
    await _assert_back_in_the_stream(queue, store, "long1")

    # Another worker takes it at once, as the same attempt, and finishes it.
    rescuer = SlowJob()
    rescuer.finish.set()
    runner = JobRunner(
        queue, store, rescuer, RunnerOptions("w-next", visibility_timeout_ms=NEVER_MS)
    )
    (message,) = await queue.read("w-next", 1, 50)
    await runner.process(message)
    status = await store.get("long1")
    assert status is not None and status.state is JobState.DONE
    assert job.runs == [("long1", 2)] and rescuer.runs == [("long1", 2)]
    assert await queue.pending() == 0 and await queue.dead_count() == 0


async def test_job_that_ends_within_the_drain_is_finished_not_handed_back(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    job = SlowJob()
    await _submit(queue, store, "short1")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(_worker(queue, store, job, drain_s=30), stop))
    await asyncio.wait_for(job.started.wait(), 10)
    stop.set()
    await asyncio.sleep(0.2)
    assert not worker.done(), "the worker waits for its job during the drain"
    job.finish.set()
    await asyncio.wait_for(worker, 10)
    status = await store.get("short1")
    assert status is not None and status.state is JobState.DONE
    assert await queue.pending() == 0 and await queue.lag() == 0


async def test_cancelled_runner_hands_its_job_back(parts) -> None:  # type: ignore[no-untyped-def]
    """A hard cancel of the consuming task (the event loop shutting down) also releases the job."""
    queue, store = parts
    job = SlowJob()
    await _submit(queue, store, "cut1")
    runner = JobRunner(
        queue, store, job, RunnerOptions("w1", visibility_timeout_ms=NEVER_MS, block_ms=50)
    )
    task = asyncio.create_task(runner.run_forever())
    await asyncio.wait_for(job.started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_back_in_the_stream(queue, store, "cut1")


async def test_stalled_message_claimed_while_stopping_goes_back_unstarted(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    job = SlowJob()
    await _submit(queue, store, "late1")
    assert len(await queue.read("crashed-worker", 1, 50)) == 1
    await asyncio.sleep(0.15)
    runner = JobRunner(queue, store, job, RunnerOptions("w1", visibility_timeout_ms=100))
    runner.stop()
    assert await runner.reclaim_once() == 1
    assert job.runs == []
    assert await queue.pending() == 0 and await queue.lag() == 1
