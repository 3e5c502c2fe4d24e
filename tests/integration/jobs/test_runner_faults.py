"""JobRunner under faults, against real Redis: dead and hung workers, duplicate runs, poison clips,
and a Redis restart in the middle of a batch."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from services.common.infra import redis_client
from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.devstack.servers import RedisServer
from shared.domain.errors import UnavailableError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.runner import JobContext, JobRunner, RunnerOptions
from tests.integration.jobs.conftest import submit

pytestmark = pytest.mark.integration


async def finish(ctx: JobContext) -> str:
    return f"out/{ctx.job_id}.mp4"


async def test_job_of_a_killed_worker_is_taken_over_once_its_lease_lapses(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    await submit(queue, store, "orphan")
    await queue.keep_alive("killed", ttl_ms=200)
    assert len(await queue.read("killed", 1, 50)) == 1  # then SIGKILL: no ack, no renewal
    rescuer = JobRunner(
        queue, store, finish, RunnerOptions("rescuer", visibility_timeout_ms=60_000)
    )
    assert await rescuer.reclaim_once() == 0  # the lease still holds: hands off
    await asyncio.sleep(0.3)
    started = time.monotonic()
    assert await rescuer.reclaim_once() == 1  # long before the 60 s visibility timeout
    status = await store.get("orphan")
    assert status is not None and status.state is JobState.DONE and status.attempts == 2
    assert time.monotonic() - started < 5
    consumers = {
        c["name"].decode() for c in await queue.redis.xinfo_consumers(queue.stream, "workers")
    }
    assert consumers == {"rescuer"}  # the dead consumer was forgotten


async def test_two_runs_of_one_job_end_it_once(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    ended: list[JobState] = []
    gate = asyncio.Event()

    async def slow(ctx: JobContext) -> str:
        await gate.wait()
        return f"out/{ctx.job_id}.mp4"

    async def on_terminal(status: JobStatus) -> None:
        ended.append(status.state)

    await submit(queue, store, "dup")
    await queue.enqueue({"job_id": "dup"})  # a duplicate delivery, as after a reclaim
    first, second = await queue.read("a", 1, 50), await queue.read("b", 1, 50)
    a = JobRunner(queue, store, slow, RunnerOptions("a"), on_terminal)
    b = JobRunner(queue, store, slow, RunnerOptions("b"), on_terminal)
    runs = asyncio.gather(a.process(first[0]), b.process(second[0]))
    await asyncio.sleep(0.1)
    gate.set()
    await runs
    status = await store.get("dup")
    assert status is not None and status.state is JobState.DONE and ended == [JobState.DONE]
    await store.update("dup", state=JobState.RUNNING, progress=0.3)  # a stale late write
    status = await store.get("dup")
    assert status is not None and (status.state, status.progress) == (JobState.DONE, 1.0)


async def test_clip_that_kills_its_worker_every_time_fails_with_a_reason(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    await submit(queue, store, "poison")
    for victim in ("w1", "w2", "w3"):  # each delivery dies (SIGKILL, segfault) without an ack
        assert await queue.read(victim, 1, 50) or await queue.reclaim(victim, 0)
        await asyncio.sleep(0.06)
    calls: list[str] = []

    async def handler(ctx: JobContext) -> str:
        calls.append(ctx.job_id)
        return "never"

    runner = JobRunner(queue, store, handler, RunnerOptions("w4", max_attempts=3))
    assert await runner.reclaim_once() == 1
    status = await store.get("poison")
    assert status is not None and status.state is JobState.FAILED and calls == []
    assert status.error == "the worker died 3 times on this clip; giving up"
    assert await queue.dead_count() == 1 and await queue.pending() == 0


async def test_job_waits_while_the_object_store_is_down_then_finishes(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts
    outage = [True]

    async def handler(ctx: JobContext) -> str:
        if outage.pop() if outage else False:
            raise UnavailableError("the object store is unavailable; try again shortly")
        return f"out/{ctx.job_id}.mp4"

    runner = JobRunner(queue, store, handler, RunnerOptions("w1"))
    await submit(queue, store, "patient")
    await runner.process((await queue.read("w1", 1, 50))[0])
    status = await store.get("patient")
    assert status is not None and status.state is JobState.DONE and status.attempts == 1


async def test_job_gives_up_on_an_object_store_that_stays_down(parts) -> None:  # type: ignore[no-untyped-def]
    queue, store = parts

    async def handler(ctx: JobContext) -> str:
        raise UnavailableError("the object store is unavailable; try again shortly")

    runner = JobRunner(queue, store, handler, RunnerOptions("w1", outage_wait_s=0.5))
    await submit(queue, store, "gone")
    await runner.process((await queue.read("w1", 1, 50))[0])
    status = await store.get("gone")
    assert status is not None and status.state is JobState.FAILED
    assert (
        status.error == "the object store is unavailable; try again shortly (gave up after waiting)"
    )


async def test_worker_loop_rides_out_a_redis_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persist=True).start()
    try:
        redis = redis_client(server.url)
        queue = RedisStreamQueue(redis, "chaos:jobs", "workers")
        store = RedisJobStore(redis, prefix="chaos:")
        started = asyncio.Event()

        async def handler(ctx: JobContext) -> str:
            started.set()
            await asyncio.sleep(0.3)
            await ctx.progress(0.5)
            return f"out/{ctx.job_id}.mp4"

        options = RunnerOptions("w1", block_ms=100, reclaim_every_s=0.5)
        runner = JobRunner(queue, store, handler, options)
        await queue.ensure_group()
        for i in range(4):
            await submit(queue, store, f"job{i}")
        loop = asyncio.create_task(runner.run_forever())
        await asyncio.wait_for(started.wait(), 10)
        assert server.process is not None
        server.process.stop()  # SIGTERM: redis writes its AOF and exits
        server.start()  # same port, same data directory
        deadline = time.monotonic() + 30
        states: list[JobState | None] = []
        while time.monotonic() < deadline:
            states = [(s.state if (s := await store.get(f"job{i}")) else None) for i in range(4)]
            if all(st is JobState.DONE for st in states):
                break
            await asyncio.sleep(0.2)
        runner.stop()
        await asyncio.wait_for(loop, 10)
        assert states == [JobState.DONE] * 4
        assert await queue.pending() == 0
        await redis.aclose()
    finally:
        server.stop()
