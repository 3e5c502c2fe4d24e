"""AuditAnchorStore on an S3 bucket with object lock (MinIO, or SeaweedFS in tests).

Every anchor is a small JSON object under ``anchors/<namespace>/`` (the log's key prefix), protected by the bucket's default retention
in COMPLIANCE mode: no credential, root included, can delete or overwrite one before it expires
(an overwrite only adds a version; reads list every version). The bucket must have object lock from
its creation: ``ensure`` creates it so, and refuses a bucket without it.
"""

from __future__ import annotations

import asyncio
import io
import os

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS, ObjectLockConfig

from shared.adapters.s3_store import S3Config
from shared.audit.anchor import anchor_from_json, anchor_key, anchor_to_json
from shared.domain.errors import ConfigError
from shared.ports import AuditAnchor


class S3AnchorStore:
    """Anchors in ``config.bucket`` (its own bucket, never the jobs' one)."""

    def __init__(
        self, config: S3Config, retention_days: int, namespace: str = "uunet:audit"
    ) -> None:
        self.bucket = config.bucket
        self.retention_days = retention_days
        self.prefix = f"anchors/{namespace.strip('/')}/"
        # Short timeouts and few retries: an anchor is small, and a wedged store must not hold
        # the API's shutdown (the SDK's defaults wait minutes).
        http = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED",  # as the SDK's own client: certifi, or SSL_CERT_FILE
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            timeout=urllib3.Timeout(connect=5, read=20),
            retries=urllib3.Retry(
                total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self.client = Minio(
            config.endpoint,
            config.access_key,
            config.secret_key,
            secure=config.secure,
            region=config.region,
            http_client=http,
        )

    async def ensure(self) -> None:
        """Create the bucket with object lock and COMPLIANCE retention; ConfigError if it lacks lock."""
        await asyncio.to_thread(self._ensure)

    def _ensure(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket, object_lock=True)
            lock = ObjectLockConfig(COMPLIANCE, self.retention_days, DAYS)
            self.client.set_object_lock_config(self.bucket, lock)
        try:
            mode = self.client.get_object_lock_config(self.bucket).mode
        except S3Error as err:
            if err.code != "ObjectLockConfigurationNotFoundError":
                raise
            mode = None
        if mode != COMPLIANCE:
            raise ConfigError(
                f"audit anchor bucket {self.bucket} has no COMPLIANCE object lock; anchors in it "
                "could be deleted (create it with object lock, or name a new bucket)"
            )

    async def put(self, anchor: AuditAnchor) -> None:
        """Write one anchor (retention comes from the bucket's default)."""
        data = anchor_to_json(anchor)
        await asyncio.to_thread(
            self.client.put_object,
            self.bucket,
            self.prefix + anchor_key(anchor),
            io.BytesIO(data),
            len(data),
            content_type="application/json",
        )

    async def anchors(self) -> list[AuditAnchor]:
        """Every anchor ever written, all versions, ordered by entry count."""
        return await asyncio.to_thread(self._read_all)

    def _read_all(self) -> list[AuditAnchor]:
        out = []
        listing = self.client.list_objects(
            self.bucket, prefix=self.prefix, recursive=True, include_version=True
        )
        for obj in listing:
            if obj.is_delete_marker:  # a DELETE only hides the locked versions; they are read
                continue
            resp = self.client.get_object(
                self.bucket, str(obj.object_name), version_id=obj.version_id
            )
            try:
                out.append(anchor_from_json(bytes(resp.read())))
            finally:
                resp.close()
                resp.release_conn()
        return sorted(out, key=lambda a: (a.count, a.at))
