"""ExpiryIndex on a Redis sorted set (member: job id, score: when its result is due)."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisExpiryIndex:
    """One sorted set per service, e.g. ``uunet:results:expiry``."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key

    async def schedule(self, job_id: str, at: float) -> None:
        await self.redis.zadd(self.key, {job_id: at})

    async def due(self, now: float, limit: int = 100) -> list[str]:
        ids = await self.redis.zrangebyscore(self.key, "-inf", now, start=0, num=limit)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def claim(self, job_id: str) -> bool:
        return bool(await self.redis.zrem(self.key, job_id))
