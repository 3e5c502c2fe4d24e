"""RedisStreamQueue and RedisJobStore against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.domain.errors import NotFoundError
from shared.domain.jobs import JobState, JobStatus

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def queue(redis: Redis, key_prefix: str) -> RedisStreamQueue:
    q = RedisStreamQueue(redis, f"{key_prefix}jobs", "workers")
    await q.ensure_group()
    return q


async def test_added_message_is_read_by_the_group_and_acked(queue: RedisStreamQueue) -> None:
    msg_id = await queue.enqueue({"job_id": "j1", "kind": "deid"})
    assert await queue.lag() == 1
    got = await queue.read("w1", count=10, block_ms=100)
    assert [(m.msg_id, m.fields) for m in got] == [(msg_id, {"job_id": "j1", "kind": "deid"})]
    assert await queue.lag() == 0
    assert await queue.pending() == 1
    await queue.ack(msg_id)
    assert await queue.pending() == 0
    assert await queue.read("w1", block_ms=50) == []


async def test_ensure_group_twice_is_harmless_and_sees_earlier_messages(
    redis: Redis, key_prefix: str
) -> None:
    q = RedisStreamQueue(redis, f"{key_prefix}early", "g")
    await redis.xadd(q.stream, {"job_id": "before-group"})
    await q.ensure_group()
    await q.ensure_group()
    got = await q.read("w", block_ms=50)
    assert [m.fields["job_id"] for m in got] == ["before-group"]


async def test_unacked_message_is_reclaimed_by_another_consumer(queue: RedisStreamQueue) -> None:
    msg_id = await queue.enqueue({"job_id": "j2"})
    assert len(await queue.read("dead-worker", block_ms=50)) == 1
    # Not idle long enough yet: nobody may take it.
    assert await queue.reclaim("rescuer", min_idle_ms=60_000) == []
    reclaimed = await queue.reclaim("rescuer", min_idle_ms=0)
    assert [m.msg_id for m in reclaimed] == [msg_id]
    assert reclaimed[0].deliveries == 2
    await queue.ack(msg_id)
    assert await queue.pending() == 0


async def test_touch_keeps_a_running_message_from_being_reclaimed(
    queue: RedisStreamQueue, redis: Redis
) -> None:
    msg_id = await queue.enqueue({"job_id": "j3"})
    await queue.read("busy", block_ms=50)
    await asyncio.sleep(0.2)
    await queue.touch("busy", msg_id)
    assert await queue.reclaim("other", min_idle_ms=150) == []


async def test_dead_letter_moves_the_message_with_its_reason(queue: RedisStreamQueue) -> None:
    await queue.enqueue({"job_id": "j4"})
    (message,) = await queue.read("w", block_ms=50)
    await queue.dead_letter(message, "boom")
    assert await queue.pending() == 0
    assert await queue.dead_count() == 1
    dead = await queue.redis.xrange(queue.dead_stream)
    assert dead[0][1][b"dead_reason"] == b"boom"
    assert dead[0][1][b"job_id"] == b"j4"


async def test_job_store_round_trips_and_updates_state(redis: Redis, key_prefix: str) -> None:
    store = RedisJobStore(redis, prefix=key_prefix)
    await store.create(JobStatus(job_id="abc", extra={"owner": "vendor1"}))
    status = await store.update("abc", state=JobState.RUNNING, progress=0.5)
    assert status.state is JobState.RUNNING and status.progress == 0.5
    done = await store.update("abc", state=JobState.DONE, result_key="out/abc.mp4", progress=1.0)
    again = await store.get("abc")
    assert again == done
    assert again is not None and again.extra == {"owner": "vendor1"}
    assert await redis.ttl(f"{key_prefix}job:abc") > 0
    assert await store.get("missing") is None
    with pytest.raises(NotFoundError):
        await store.update("missing", progress=0.1)
