"""In-memory fakes of the ports (JobQueue, JobStore, ObjectStore) and token helpers for unit tests."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.domain.errors import NotFoundError
from shared.domain.jobs import JobStatus, QueueMessage
from shared.ports import ObjectInfo

ISSUER = "https://issuer.test"
AUDIENCE = "uunet-private-test"


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []

    async def ensure_group(self) -> None:
        return None

    async def enqueue(self, fields: Mapping[str, str]) -> str:
        self.messages.append(dict(fields))
        return f"{len(self.messages)}-0"

    async def read(self, consumer: str, count: int = 1, block_ms: int = 0) -> list[QueueMessage]:
        out = [QueueMessage(f"{i}-0", m) for i, m in enumerate(self.messages[:count])]
        self.messages = self.messages[count:]
        return out

    async def ack(self, msg_id: str) -> None:
        return None

    async def touch(self, consumer: str, msg_id: str) -> None:
        return None

    async def keep_alive(self, consumer: str, ttl_ms: int) -> None:
        return None

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int = 10) -> list[QueueMessage]:
        return []

    async def dead_letter(self, message: QueueMessage, reason: str) -> str:
        return "dead"

    async def release(self, message: QueueMessage, changes: Mapping[str, str]) -> str:
        return await self.enqueue({**message.fields, **changes})

    async def depth(self) -> int:
        return len(self.messages)

    async def lag(self) -> int:
        return len(self.messages)

    async def dead_count(self) -> int:
        return 0


class FakeExpiryIndex:
    """The result schedule in a dict."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def schedule(self, job_id: str, at: float) -> None:
        self.at[job_id] = at

    async def due(self, now: float, limit: int = 100) -> list[str]:
        return sorted(j for j, t in self.at.items() if t <= now)[:limit]

    async def claim(self, job_id: str) -> bool:
        return self.at.pop(job_id, None) is not None


FROZEN_WHEN_ENDED = frozenset({"state", "progress", "error", "attempts"})


class FakeJobStore:
    def __init__(self) -> None:
        self.jobs: dict[str, JobStatus] = {}

    async def create(self, status: JobStatus) -> None:
        self.jobs[status.job_id] = status

    async def get(self, job_id: str) -> JobStatus | None:
        job = self.jobs.get(job_id)
        return None if job is None else dataclasses.replace(job, extra=dict(job.extra))

    async def update(self, job_id: str, **changes: Any) -> JobStatus:
        if self.jobs[job_id].state.terminal:  # end states are final, as in the Redis store
            changes = {k: v for k, v in changes.items() if k not in FROZEN_WHEN_ENDED}
        extra = dict(self.jobs[job_id].extra)
        extra.update({k[2:]: str(v) for k, v in changes.items() if k.startswith("x_")})
        plain = {k: v for k, v in changes.items() if not k.startswith("x_")}
        job = dataclasses.replace(self.jobs[job_id], **plain, extra=extra, updated_at=time.time())
        self.jobs[job_id] = job
        return job

    async def update_active(self, job_id: str, **changes: Any) -> JobStatus | None:
        if self.jobs[job_id].state.terminal:
            return None
        return await self.update(job_id, **changes)


class FakeObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def put_bytes(self, key: str, data: bytes, content_type: str = "") -> ObjectInfo:
        self.objects[key] = data
        return ObjectInfo(key, len(data), "etag")

    async def put_file(self, key: str, path: Path, content_type: str = "") -> ObjectInfo:
        return await self.put_bytes(key, path.read_bytes())

    async def get_bytes(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        data = self._get(key)
        return data[offset:] if length is None else data[offset : offset + length]

    async def get_file(self, key: str, path: Path) -> None:
        path.write_bytes(self._get(key))

    async def stream(self, key: str, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        data = self._get(key)
        for i in range(0, len(data), chunk_size):
            yield data[i : i + chunk_size]

    async def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(self._get(key)), "etag")

    async def exists(self, key: str) -> bool:
        return key in self.objects

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        return await self.put_bytes(dst, self._get(src))

    async def presigned_get(self, key: str, expires_s: int = 900) -> str:
        return f"http://s3.test/{key}?sig=x"

    async def presigned_put(self, key: str, expires_s: int = 900) -> str:
        return f"http://s3.test/{key}?sig=put"

    def _get(self, key: str) -> bytes:
        if key not in self.objects:
            raise NotFoundError(f"no object {key}")
        return self.objects[key]


class Issuer:
    """An Ed25519 token issuer for tests."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "officer-7",
            "iat": now,
            "exp": now + 600,
            "scope": "reconstruct",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, **overrides: Any) -> str:
        return jwt.encode(self.claims(**overrides), self.key, algorithm="EdDSA")

    def header(self, **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**overrides)}"}
