"""A presigned upload URL stays valid until it expires, so what the job processes must not be what
that URL can still overwrite: completion copies the upload to the job's own key (real S3 over HTTP,
real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from services.common.errors import NotReadyError
from services.public_deid.auth import Vendor
from services.public_deid.service import ClipRequest, DeidJobs
from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.adapters.s3_store import S3ObjectStore
from shared.domain.errors import LimitExceededError

pytestmark = pytest.mark.integration
VENDOR = Vendor("vendor-a", owner="key-test")
FIRST = b"the clip the vendor completed" * 40


@pytest_asyncio.fixture
async def jobs(
    redis_url: str, key_prefix: str, object_store: S3ObjectStore
) -> AsyncIterator[DeidJobs]:
    redis = Redis.from_url(redis_url)
    queue = RedisStreamQueue(redis, f"{key_prefix}deid", "deid-workers")
    await queue.ensure_group()
    yield DeidJobs(object_store, RedisJobStore(redis, key_prefix), queue, max_bytes=4096)
    await redis.aclose()


async def _put(url: str, data: bytes) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.put(url, content=data)).status_code


async def _queued_raw_key(jobs: DeidJobs) -> str:
    (message,) = await jobs.queue.read("test", count=1)
    return message.fields["raw_key"]


async def test_a_put_after_complete_does_not_change_what_the_job_processes(
    jobs: DeidJobs,
) -> None:
    up = await jobs.presign_upload(VENDOR, ClipRequest("big.mp4"))
    assert await _put(up.url, FIRST) == 200
    job_id = await jobs.complete_upload(VENDOR, up.upload_id)
    assert await _put(up.url, b"something else entirely") == 200  # the URL still works
    raw_key = await _queued_raw_key(jobs)
    assert await jobs.objects.get_bytes(raw_key) == FIRST
    status = await jobs.jobs.get(job_id)
    assert status is not None and status.extra["raw_key"] == raw_key


async def test_the_size_limit_applies_to_the_copy_the_job_reads(jobs: DeidJobs) -> None:
    up = await jobs.presign_upload(VENDOR, ClipRequest())
    assert await _put(up.url, bytes(4097)) == 200
    with pytest.raises(LimitExceededError):
        await jobs.complete_upload(VENDOR, up.upload_id)
    assert [o async for o in _keys(jobs.objects)] == []


async def _keys(objects: S3ObjectStore) -> AsyncIterator[str]:
    for obj in objects.client.list_objects(objects.bucket, recursive=True):
        yield str(obj.object_name)


async def test_completing_before_the_put_is_not_ready(jobs: DeidJobs) -> None:
    up = await jobs.presign_upload(VENDOR, ClipRequest())
    with pytest.raises(NotReadyError):
        await jobs.complete_upload(VENDOR, up.upload_id)
