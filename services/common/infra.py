"""Build the real adapters (Redis queue and job store, S3 object store) from service settings.

Called only by composition roots; nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from services.common.http import ReadinessCheck
from services.common.settings import ServiceSettings
from shared.adapters.redis_expiry import RedisExpiryIndex
from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.adapters.s3_store import S3Config, S3ObjectStore
from shared.domain.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Infra:
    """The adapters one process uses; ``close`` releases the Redis connections."""

    redis: Redis
    queue: RedisStreamQueue
    jobs: RedisJobStore
    objects: S3ObjectStore
    expiries: RedisExpiryIndex

    def readiness(self) -> Mapping[str, ReadinessCheck]:
        """Checks for ``/readyz``: Redis answers PING, the bucket answers."""
        return {"redis": self.redis.ping, "s3": self.objects.ping}

    async def close(self) -> None:
        await self.redis.aclose()


def s3_config(settings: ServiceSettings) -> S3Config:
    """The S3 adapter's config from the common settings."""
    return S3Config(
        endpoint=settings.s3_endpoint,
        access_key=settings.secret("s3_access_key"),
        secret_key=settings.secret("s3_secret_key"),
        bucket=settings.s3_bucket,
        secure=settings.s3_secure,
        region=settings.s3_region,
        public_endpoint=settings.s3_public_endpoint,
        public_secure=settings.s3_public_secure,
    )


def redis_client(url: str) -> Redis:
    """A client that rides out a Redis restart: commands retry for ~15 s on a lost connection
    (a repeat is harmless: a duplicate stream entry runs once, jobs being idempotent per id),
    and no socket waits for ever."""
    retry = Retry(ExponentialWithJitterBackoff(cap=2.0, base=0.1), retries=10)
    return Redis.from_url(
        url,
        retry=retry,
        socket_connect_timeout=5,
        socket_timeout=30,  # above the queue's longest blocking read
        health_check_interval=30,
    )


def build_infra(settings: ServiceSettings, key_prefix: str = "uunet:") -> Infra:
    """Redis client, stream queue (``settings.stream``/``group``), job store and object store."""
    redis = redis_client(settings.secret("redis_url"))
    return Infra(
        redis=redis,
        queue=RedisStreamQueue(redis, settings.stream, settings.group),
        jobs=RedisJobStore(redis, prefix=key_prefix),
        objects=S3ObjectStore(s3_config(settings)),
        expiries=RedisExpiryIndex(redis, f"{key_prefix}results:expiry"),
    )


async def prepare_bucket(settings: ServiceSettings, objects: S3ObjectStore) -> None:
    """Create the bucket and its expiry rules (raw/, results/), or (``s3_manage_bucket`` false: credentials
    limited to objects, the bucket made by the deployment) wait until the bucket answers."""
    where = f"S3 at {settings.s3_endpoint}"
    if settings.s3_manage_bucket:
        await wait_for_dependency(where, objects.ensure_bucket)
        await objects.set_expiry_rules(settings.expiry_rules)
        return

    async def bucket_answers() -> None:
        if not await objects.ping():
            raise ConfigError(f"bucket {settings.s3_bucket} is missing or not readable")

    await wait_for_dependency(f"bucket {settings.s3_bucket} ({where})", bucket_answers)


async def wait_for_dependency(
    what: str, attempt: Callable[[], Awaitable[object]], timeout_s: float = 30.0
) -> None:
    """Retry ``attempt`` until it succeeds; ConfigError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await attempt()
            return
        except Exception as err:  # any failure to connect; the last one is reported
            if time.monotonic() >= deadline:
                raise ConfigError(f"cannot reach {what}: {type(err).__name__}") from None
            log.warning("waiting for %s (%s)", what, type(err).__name__)
            await asyncio.sleep(1.0)
