"""A job queue and store of the test's own on the session's real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from redis.asyncio import Redis

from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.domain.jobs import JobStatus


@pytest_asyncio.fixture
async def parts(
    redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[RedisStreamQueue, RedisJobStore]]:
    """Queue (dead workers' messages taken over after 50 ms) and job store."""
    redis = Redis.from_url(redis_url)
    queue = RedisStreamQueue(redis, f"{key_prefix}jobs", "workers", orphan_grace_ms=50)
    await queue.ensure_group()
    yield queue, RedisJobStore(redis, prefix=key_prefix)
    await redis.aclose()


async def submit(queue: RedisStreamQueue, store: RedisJobStore, job_id: str) -> None:
    """Create a queued job and its message."""
    await store.create(JobStatus(job_id=job_id))
    await queue.enqueue({"job_id": job_id})
