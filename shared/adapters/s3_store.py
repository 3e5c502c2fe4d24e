"""ObjectStore on any S3 endpoint through the ``minio`` SDK (MinIO in production, SeaweedFS in tests).

The SDK is synchronous; calls run in a worker thread so the services' event loops stay responsive.
Presigned URLs can be signed for a public endpoint different from the internal one (compose/k8s).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from minio import Minio
from minio.commonconfig import ENABLED, CopySource, Filter
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from shared.domain.errors import NotFoundError
from shared.ports import ObjectInfo

T = TypeVar("T")
_MISSING = ("NoSuchKey", "NoSuchObject", "NoSuchBucket", "ResourceNotFound")


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
        return Minio(endpoint, c.access_key, c.secret_key, secure=secure, region=c.region)

    async def ensure_bucket(self) -> None:
        """Create the bucket if missing."""

        def make() -> None:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

        await asyncio.to_thread(make)

    async def set_expiry_rule(self, prefix: str, days: int) -> None:
        """Lifecycle backstop: objects under ``prefix`` expire after ``days`` days."""
        rule = Rule(
            ENABLED,
            rule_filter=Filter(prefix=prefix),
            rule_id=f"expire-{prefix.strip('/') or 'all'}",
            expiration=Expiration(days=days),
        )
        config = LifecycleConfig([rule])
        await asyncio.to_thread(self.client.set_bucket_lifecycle, self.bucket, config)

    async def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        result = await asyncio.to_thread(
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
        result = await asyncio.to_thread(
            self.client.fput_object, self.bucket, key, str(path), content_type=content_type
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

        return await self._missing_to_not_found(key, asyncio.to_thread(read))

    async def get_file(self, key: str, path: Path) -> None:
        await self._missing_to_not_found(
            key, asyncio.to_thread(self.client.fget_object, self.bucket, key, str(path))
        )

    async def stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object in chunks without holding it whole in memory."""
        size = (await self.stat(key)).size
        offset = 0
        while offset < size:
            chunk = await self.get_bytes(key, offset, min(chunk_size, size - offset))
            offset += len(chunk)
            yield chunk

    async def stat(self, key: str) -> ObjectInfo:
        st = await self._missing_to_not_found(
            key, asyncio.to_thread(self.client.stat_object, self.bucket, key)
        )
        return ObjectInfo(key=key, size=int(st.size or 0), etag=str(st.etag))

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except NotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.remove_object, self.bucket, key)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        """Server-side copy within the bucket (single request: objects up to 5 GiB)."""
        source = CopySource(self.bucket, src)
        await self._missing_to_not_found(
            src, asyncio.to_thread(self.client.copy_object, self.bucket, dst, source)
        )
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
    async def _missing_to_not_found(key: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except S3Error as err:
            if err.code in _MISSING:
                raise NotFoundError(f"no object {key}") from err
            raise
