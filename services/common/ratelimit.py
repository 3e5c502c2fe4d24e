"""Per-credential rate limits: a fixed one-minute window counted in Redis (shared by all replicas).

The window key expires on its own, so a limiter leaves nothing behind in Redis.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis

from services.common.errors import RateLimitedError


class RateLimiter(Protocol):
    """Counts one hit for ``who``; raises RateLimitedError when over the limit."""

    async def hit(self, who: str) -> None: ...


class RedisRateLimiter:
    """At most ``per_minute`` hits per ``who`` in each clock minute (0 disables the limit)."""

    def __init__(self, redis: Redis, per_minute: int, prefix: str = "uunet:rate:") -> None:
        self.redis = redis
        self.per_minute = per_minute
        self.prefix = prefix

    async def hit(self, who: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.time()
        window = int(now // 60)
        key = f"{self.prefix}{who}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        if int(count) > self.per_minute:
            retry_after = max(1, int((window + 1) * 60 - now + 0.999))
            raise RateLimitedError(
                f"rate limit of {self.per_minute} requests per minute exceeded", retry_after
            )
