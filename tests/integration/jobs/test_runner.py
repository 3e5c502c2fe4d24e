"""JobRunner against real Redis: idempotency, bad input, retries, dead letter, reclaim."""

from __future__ import annotations

import asyncio

import pytest

from shared.adapters.redis_streams import RedisStreamQueue
from shared.domain.errors import BadInputError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.runner import JobContext, JobRunner, RunnerOptions
from tests.integration.jobs.conftest import submit

pytestmark = pytest.mark.integration


async def drain(runner: JobRunner, queue: RedisStreamQueue) -> None:
    while messages := await queue.read(runner.options.consumer, 10, 50):
        for m in messages:
            await runner.process(m)


async def test_successful_job_is_done_with_progress_and_runs_once(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    calls: list[str] = []
    finished: list[JobState] = []

    async def handler(ctx: JobContext) -> str:
        calls.append(ctx.job_id)
        await ctx.progress(0.5)
        return f"out/{ctx.job_id}.mp4"

    async def on_terminal(status: JobStatus) -> None:
        finished.append(status.state)

    runner = JobRunner(queue, store, handler, RunnerOptions(consumer="w1"), on_terminal)
    await submit(queue, store, "ok1")
    await queue.enqueue({"job_id": "ok1"})  # a duplicate delivery of the same job
    await drain(runner, queue)
    status = await store.get("ok1")
    assert status is not None
    assert (status.state, status.progress, status.result_key) == (JobState.DONE, 1.0, "out/ok1.mp4")
    assert calls == ["ok1"] and finished == [JobState.DONE]
    assert await queue.pending() == 0


async def test_bad_input_fails_at_once_with_the_reason(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts

    async def handler(ctx: JobContext) -> str:
        raise BadInputError("clip.mp4: not a video file")

    runner = JobRunner(queue, store, handler, RunnerOptions(consumer="w1"))
    await submit(queue, store, "bad1")
    await drain(runner, queue)
    status = await store.get("bad1")
    assert status is not None and status.state is JobState.FAILED
    assert status.error == "clip.mp4: not a video file" and status.attempts == 1
    assert await queue.dead_count() == 0


async def test_crashing_handler_is_retried_then_dead_lettered(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    attempts: list[int] = []

    async def handler(ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        raise RuntimeError("gpu fell over")

    runner = JobRunner(queue, store, handler, RunnerOptions(consumer="w1", max_attempts=3))
    await submit(queue, store, "crash1")
    await drain(runner, queue)
    status = await store.get("crash1")
    assert attempts == [1, 2, 3]
    assert status is not None and status.state is JobState.FAILED
    assert status.error == "internal error after 3 attempts (RuntimeError)"
    assert await queue.dead_count() == 1 and await queue.pending() == 0


async def test_handler_that_hangs_times_out_and_fails(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts

    async def handler(ctx: JobContext) -> str:
        await asyncio.sleep(30)
        return "never"

    runner = JobRunner(queue, store, handler, RunnerOptions(consumer="w1", job_timeout_s=0.2))
    await submit(queue, store, "slow1")
    await drain(runner, queue)
    status = await store.get("slow1")
    assert status is not None and status.state is JobState.FAILED
    assert status.error is not None and "timed out" in status.error


async def test_job_of_a_dead_worker_is_reclaimed_and_finished(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    await submit(queue, store, "orphan")
    assert len(await queue.read("crashed-worker", 1, 50)) == 1  # read, never acked

    async def handler(ctx: JobContext) -> str:
        return "out/orphan.mp4"

    options = RunnerOptions(consumer="rescuer", visibility_timeout_ms=100)
    runner = JobRunner(queue, store, handler, options)
    await asyncio.sleep(0.15)
    assert await runner.reclaim_once() == 1
    status = await store.get("orphan")
    assert status is not None and status.state is JobState.DONE and status.attempts == 2


async def test_run_forever_processes_until_stopped(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    done = asyncio.Event()

    async def handler(ctx: JobContext) -> str:
        done.set()
        return "x"

    runner = JobRunner(queue, store, handler, RunnerOptions(consumer="w1", block_ms=50))
    task = asyncio.create_task(runner.run_forever())
    await submit(queue, store, "loop1")
    await asyncio.wait_for(done.wait(), 5)
    runner.stop()
    await asyncio.wait_for(task, 5)
    status = await store.get("loop1")
    assert status is not None and status.state is JobState.DONE
