"""Per-credential limits counted in Redis (shared by all replicas): a fixed window per caller.

Used for the per-minute rate limit and the per-day job quota. The window key expires on its own,
so a limiter leaves nothing behind in Redis.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis

from services.common.errors import RateLimitedError


class RateLimiter(Protocol):
    """Counts one hit for ``who``; raises RateLimitedError when over ``limit`` (None: the
    limiter's default) in the current window."""

    async def hit(self, who: str, limit: int | None = None) -> None: ...


class RedisRateLimiter:
    """At most ``per_window`` hits per ``who`` in each clock window of ``window_s`` seconds (0
    disables the limit); the refusal reads "<name> of <limit> <unit> exceeded"."""

    def __init__(
        self,
        redis: Redis,
        per_window: int,
        prefix: str = "uunet:rate:",
        window_s: int = 60,
        wording: tuple[str, str] = ("rate limit", "requests per minute"),
    ) -> None:
        self.redis = redis
        self.per_window = per_window
        self.prefix = prefix
        self.window_s = window_s
        self.wording = wording

    async def hit(self, who: str, limit: int | None = None) -> None:
        allowed = self.per_window if limit is None else limit
        if allowed <= 0:
            return
        now = time.time()
        window = int(now // self.window_s)
        key = f"{self.prefix}{who}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * self.window_s)
            count, _ = await pipe.execute()
        if int(count) > allowed:
            retry_after = max(1, int((window + 1) * self.window_s - now + 0.999))
            name, unit = self.wording
            raise RateLimitedError(f"{name} of {allowed} {unit} exceeded", retry_after)
