"""ObjectStore on any S3 endpoint through the ``minio`` SDK (MinIO in production, SeaweedFS in tests).

The SDK is synchronous; calls run in a worker thread so the services' event loops stay responsive.
Presigned URLs can be signed for a public endpoint different from the internal one (compose/k8s).
An unreachable or failing S3 server becomes ``UnavailableError`` within seconds (short connect
timeout, two quick retries), so callers answer 503 or wait, instead of hanging or failing a job.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, CopySource, Filter
from minio.error import S3Error, ServerError
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from shared.domain.errors import NotFoundError, UnavailableError
from shared.ports import ObjectInfo

T = TypeVar("T")
_MISSING = ("NoSuchKey", "NoSuchObject", "NoSuchBucket", "ResourceNotFound")
_BUSY = ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout")


@dataclass(frozen=True)
class S3Config:
    """Where and how to reach the bucket; ``public_endpoint`` signs URLs handed to clients."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    secure: bool = False
    region: str = "us-east-1"
    public_endpoint: str | None = None
    public_secure: bool | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0


class S3ObjectStore:
    """One bucket; keys are plain strings like ``raw/<job>.mp4``."""

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.bucket = config.bucket
        self.client = self._client(config.endpoint, config.secure)
        public = config.public_endpoint or config.endpoint
        secure = config.secure if config.public_secure is None else config.public_secure
        # Signing is offline given a region, so this client never needs to reach ``public``.
        self.signer = self._client(public, secure)

    def _client(self, endpoint: str, secure: bool) -> Minio:
        c = self.config
        http = urllib3.PoolManager(
            timeout=urllib3.util.Timeout(connect=c.connect_timeout_s, read=c.read_timeout_s),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            # Two quick retries of a failed connection (~0.6 s), none of a read that timed out
            # (the SDK: five, and 5-minute timeouts): an outage must surface in seconds.
            retries=urllib3.Retry(
                total=2, read=0, backoff_factor=0.2, status_forcelist=[502, 503, 504]
            ),
        )
        return Minio(
            endpoint, c.access_key, c.secret_key, secure=secure, region=c.region, http_client=http
        )

    async def ensure_bucket(self) -> None:
        """Create the bucket if missing."""

        def make() -> None:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

        await self._call(self.bucket, make)

    async def set_expiry_rules(self, days_by_prefix: Mapping[str, int]) -> None:
        """Lifecycle backstop: objects under each prefix expire after its number of days (this
        replaces the bucket's lifecycle configuration as a whole)."""
        rules = [
            Rule(
                ENABLED,
                rule_filter=Filter(prefix=prefix),
                rule_id=f"expire-{prefix.strip('/') or 'all'}",
                expiration=Expiration(days=days),
            )
            for prefix, days in days_by_prefix.items()
        ]
        await self._call(
            self.bucket, self.client.set_bucket_lifecycle, self.bucket, LifecycleConfig(rules)
        )

    async def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        result = await self._call(
            key,
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )
        return ObjectInfo(key=key, size=len(data), etag=str(result.etag))

    async def put_file(
        self, key: str, path: Path, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        result = await self._call(
            key, self.client.fput_object, self.bucket, key, str(path), content_type=content_type
        )
        return ObjectInfo(key=key, size=path.stat().st_size, etag=str(result.etag))

    async def get_bytes(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        def read() -> bytes:
            resp = self.client.get_object(self.bucket, key, offset=offset, length=length or 0)
            try:
                return bytes(resp.read())
            finally:
                resp.close()
                resp.release_conn()

        return await self._call(key, read)

    async def get_file(self, key: str, path: Path) -> None:
        await self._call(key, self.client.fget_object, self.bucket, key, str(path))

    async def stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object in chunks without holding it whole in memory."""
        size = (await self.stat(key)).size
        offset = 0
        while offset < size:
            chunk = await self.get_bytes(key, offset, min(chunk_size, size - offset))
            offset += len(chunk)
            yield chunk

    async def stat(self, key: str) -> ObjectInfo:
        st = await self._call(key, self.client.stat_object, self.bucket, key)
        return ObjectInfo(key=key, size=int(st.size or 0), etag=str(st.etag))

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except NotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        await self._call(key, self.client.remove_object, self.bucket, key)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        """Server-side copy within the bucket (single request: objects up to 5 GiB)."""
        source = CopySource(self.bucket, src)
        await self._call(src, self.client.copy_object, self.bucket, dst, source)
        return await self.stat(dst)

    async def presigned_get(self, key: str, expires_s: int = 900) -> str:
        return await asyncio.to_thread(
            self.signer.presigned_get_object, self.bucket, key, timedelta(seconds=expires_s)
        )

    async def presigned_put(self, key: str, expires_s: int = 900) -> str:
        return await asyncio.to_thread(
            self.signer.presigned_put_object, self.bucket, key, timedelta(seconds=expires_s)
        )

    async def ping(self) -> bool:
        """Readiness: the bucket answers."""
        try:
            return bool(await asyncio.to_thread(self.client.bucket_exists, self.bucket))
        except Exception:
            return False

    @staticmethod
    async def _call(key: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` in a thread, its S3 and network failures mapped to domain errors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except S3Error as err:
            if err.code in _MISSING:
                raise NotFoundError(f"no object {key}") from err
            if err.code in _BUSY:
                raise _unavailable() from err
            raise
        except (ServerError, urllib3.exceptions.HTTPError) as err:
            raise _unavailable() from err


def _unavailable() -> UnavailableError:
    return UnavailableError("the object store is unavailable; try again shortly")
