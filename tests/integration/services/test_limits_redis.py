"""The per-key rate limit and daily quota on real Redis: 429 reasons with Retry-After, per-key
overrides, keys that never meet."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from services.common.errors import RateLimitedError
from services.common.ratelimit import RedisRateLimiter

pytestmark = pytest.mark.integration


async def test_rate_limit_holds_per_key_with_retry_after(redis: Redis, key_prefix: str) -> None:
    limiter = RedisRateLimiter(redis, 3, prefix=key_prefix)
    for _ in range(3):
        await limiter.hit("a")
    with pytest.raises(RateLimitedError) as over:
        await limiter.hit("a")
    assert str(over.value) == "rate limit of 3 requests per minute exceeded"
    assert 1 <= over.value.retry_after_s <= 60
    await limiter.hit("b")  # another key has its own count
    await limiter.hit("b", limit=0)  # a key without a limit is never refused


async def test_daily_quota_uses_a_keys_own_limit(redis: Redis, key_prefix: str) -> None:
    quota = RedisRateLimiter(
        redis, 0, prefix=key_prefix, window_s=86_400, wording=("daily quota", "jobs per day")
    )
    for _ in range(5):
        await quota.hit("unlimited")  # the service-wide default 0: no quota
    await quota.hit("metered", limit=2)
    await quota.hit("metered", limit=2)
    with pytest.raises(RateLimitedError) as over:
        await quota.hit("metered", limit=2)
    assert str(over.value) == "daily quota of 2 jobs per day exceeded"
    assert 1 <= over.value.retry_after_s <= 86_400
    assert 0 < await redis.ttl(f"{key_prefix}metered:{int(time.time() // 86_400)}") <= 2 * 86_400
