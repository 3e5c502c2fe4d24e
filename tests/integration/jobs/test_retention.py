"""Results expire on real Redis and S3: deleted once when due (two sweepers, one deletion), the job
marked, and the public side answers "gone" for it."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from services.common.errors import ResultGoneError
from services.public_deid.auth import Vendor
from services.public_deid.service import DeidJobs
from shared.adapters.redis_expiry import RedisExpiryIndex
from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.adapters.s3_store import S3ObjectStore
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.retention import ResultRetention

pytestmark = pytest.mark.integration


async def test_a_result_is_deleted_once_when_due_and_then_reads_as_gone(
    redis_url: str, key_prefix: str, object_store: S3ObjectStore
) -> None:
    redis = Redis.from_url(redis_url)
    jobs = RedisJobStore(redis, prefix=key_prefix)
    index = RedisExpiryIndex(redis, f"{key_prefix}results:expiry")
    deleted: list[str] = []

    async def on_deleted(job: JobStatus, why: str) -> None:
        deleted.append(job.job_id)

    sweepers = [ResultRetention(object_store, jobs, index, 0.5, on_deleted) for _ in range(2)]
    job_id = "c" * 32
    await jobs.create(JobStatus(job_id=job_id, extra={"owner": "cam1"}))
    await object_store.put_bytes(f"results/{job_id}.mp4", b"mp4")
    done = await jobs.update(job_id, state=JobState.DONE, result_key=f"results/{job_id}.mp4")
    await sweepers[0].schedule(done)
    assert await sweepers[0].sweep_once() == 0 and await object_store.exists(
        f"results/{job_id}.mp4"
    )
    later = time.time() + 1
    counts = await asyncio.gather(*(s.sweep_once(now=later) for s in sweepers))
    assert sorted(counts) == [0, 1] and deleted == [job_id]
    assert not await object_store.exists(f"results/{job_id}.mp4")
    status = await jobs.get(job_id)
    assert status is not None and status.state is JobState.DONE and status.result_key is None
    assert status.extra["result_deleted"] == "expired 0 s after the job was done"
    public = DeidJobs(object_store, jobs, RedisStreamQueue(redis, f"{key_prefix}q", "g"), 1 << 20)
    with pytest.raises(ResultGoneError, match="was deleted"):
        await public.result_key(Vendor("cam1", "cam1"), job_id)
    await redis.aclose()
