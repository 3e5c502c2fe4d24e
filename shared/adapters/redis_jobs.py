"""JobStore on Redis hashes: one hash per job, expiring some time after the job ends.

Updates run as one Lua script, so "end states are final" holds even when two workers finish the
same job at once (a reclaimed job whose first worker was only slow): the first end state wins.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from shared.domain.errors import NotFoundError
from shared.domain.jobs import JobState, JobStatus

# KEYS[1]: the job hash. ARGV: mode ("update" | "active"), ttl_s, number of fields to set, then
# field/value pairs to set, then fields to delete. Returns -1 (no job), 0 (ended; nothing done
# in "active" mode) or 1. An ended job keeps its frozen fields whatever the mode.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local function ended()
  local s = redis.call('HGET', KEYS[1], 'state')
  return s == 'done' or s == 'failed'
end
local was_ended = ended()
if was_ended and ARGV[1] == 'active' then return 0 end
local frozen = {state=true, progress=true, error=true, attempts=true}
local nset = tonumber(ARGV[3])
local i = 4
for _ = 1, nset do
  if not (was_ended and frozen[ARGV[i]]) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  i = i + 2
end
while i <= #ARGV do
  if not (was_ended and frozen[ARGV[i]]) then redis.call('HDEL', KEYS[1], ARGV[i]) end
  i = i + 1
end
if ended() then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


class RedisJobStore:
    """Job state under ``<prefix>job:<id>``; terminal jobs expire after ``ttl_s``."""

    def __init__(self, redis: Redis, prefix: str = "uunet:", ttl_s: int = 7 * 24 * 3600) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._script = redis.register_script(_UPDATE)

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
        """Apply ``changes`` (JobStatus field names, or ``x_<name>`` extras; None deletes) in one
        step; the job must exist. An ended job keeps its state, progress, error and attempts."""
        await self._apply("update", job_id, changes)
        return await self._get(job_id)

    async def update_active(self, job_id: str, **changes: object) -> JobStatus | None:
        """Like :meth:`update`, only if the job has not ended yet; None if it had."""
        if not await self._apply("active", job_id, changes):
            return None
        return await self._get(job_id)

    async def _apply(self, mode: str, job_id: str, changes: dict[str, object]) -> bool:
        sets: dict[str, str] = {"updated_at": str(time.time())}
        deletes: list[str] = []
        for name, value in changes.items():
            if value is None:
                deletes.append(name)
            else:
                sets[name] = str(value.value if isinstance(value, JobState) else value)
        args: list[str | int] = [mode, self.ttl_s, len(sets)]
        args += [x for kv in sets.items() for x in kv] + deletes
        done = int(await self._script(keys=[self._key(job_id)], args=args))
        if done < 0:
            raise NotFoundError(f"unknown job {job_id}")
        return done == 1

    async def _get(self, job_id: str) -> JobStatus:
        status = await self.get(job_id)
        if status is None:
            raise NotFoundError(f"unknown job {job_id}")
        return status
