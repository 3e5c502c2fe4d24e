"""JobStore on Redis hashes: one hash per job, expiring some time after the job ends."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from shared.domain.errors import NotFoundError
from shared.domain.jobs import JobState, JobStatus


class RedisJobStore:
    """Job state under ``<prefix>job:<id>``; terminal jobs expire after ``ttl_s``."""

    def __init__(self, redis: Redis, prefix: str = "uunet:", ttl_s: int = 7 * 24 * 3600) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    async def create(self, status: JobStatus) -> None:
        key = self._key(status.job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            fields: dict[Any, Any] = status.to_fields()
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def get(self, job_id: str) -> JobStatus | None:
        raw: dict[Any, Any] = await self.redis.hgetall(self._key(job_id))
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return JobStatus.from_fields(fields)

    async def update(self, job_id: str, **changes: object) -> JobStatus:
        """Apply ``changes`` (JobStatus field names, or ``x_<name>`` extras) atomically enough:
        one HSET; the job must exist."""
        key = self._key(job_id)
        if not await self.redis.exists(key):
            raise NotFoundError(f"unknown job {job_id}")
        mapping: dict[Any, Any] = {"updated_at": str(time.time())}
        for name, value in changes.items():
            if value is None:
                await self.redis.hdel(key, name)
                continue
            mapping[name] = str(value.value if isinstance(value, JobState) else value)
        await self.redis.hset(key, mapping=mapping)
        status = await self.get(job_id)
        assert status is not None
        if status.state.terminal:
            await self.redis.expire(key, self.ttl_s)
        return status
