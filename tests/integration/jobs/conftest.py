"""A Redis stream queue and job store on the session's real redis-server, under this test's prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from redis.asyncio import Redis

from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue


@pytest_asyncio.fixture
async def parts(
    redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[RedisStreamQueue, RedisJobStore]]:
    """(queue with its consumer group made, job store)."""
    redis = Redis.from_url(redis_url)
    queue = RedisStreamQueue(redis, f"{key_prefix}jobs", "workers")
    await queue.ensure_group()
    yield queue, RedisJobStore(redis, prefix=key_prefix)
    await redis.aclose()
