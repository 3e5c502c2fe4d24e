"""In-memory fakes of the project's own ports (ObjectStore, JobQueue, JobStore) and rate limiter."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from services.common.errors import RateLimitedError
from shared.domain.errors import NotFoundError
from shared.domain.jobs import JobState, JobStatus, QueueMessage
from shared.ports import ObjectInfo


class FakeObjectStore:
    """A dict of key -> bytes; presigned URLs are fake ``memory://`` strings."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def _info(self, key: str) -> ObjectInfo:
        blob = self.data[key]
        return ObjectInfo(key=key, size=len(blob), etag=hashlib.md5(blob).hexdigest())

    async def put_bytes(self, key: str, data: bytes, content_type: str = "") -> ObjectInfo:
        self.data[key] = bytes(data)
        return self._info(key)

    async def put_file(self, key: str, path: Path, content_type: str = "") -> ObjectInfo:
        return await self.put_bytes(key, Path(path).read_bytes())

    async def get_bytes(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        blob = self._get(key)
        end = len(blob) if length is None else offset + length
        return blob[offset:end]

    async def get_file(self, key: str, path: Path) -> None:
        Path(path).write_bytes(self._get(key))

    async def stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        blob = self._get(key)
        for i in range(0, len(blob), chunk_size):
            yield blob[i : i + chunk_size]

    async def stat(self, key: str) -> ObjectInfo:
        self._get(key)
        return self._info(key)

    async def exists(self, key: str) -> bool:
        return key in self.data

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        return await self.put_bytes(dst, self._get(src))

    async def presigned_get(self, key: str, expires_s: int = 900) -> str:
        return f"memory://get/{key}?expires={expires_s}"

    async def presigned_put(self, key: str, expires_s: int = 900) -> str:
        return f"memory://put/{key}?expires={expires_s}"

    def _get(self, key: str) -> bytes:
        if key not in self.data:
            raise NotFoundError(f"no object {key}")
        return self.data[key]


class FakeJobStore:
    """Job statuses in a dict."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobStatus] = {}

    async def create(self, status: JobStatus) -> None:
        self.jobs[status.job_id] = dataclasses.replace(status)

    async def get(self, job_id: str) -> JobStatus | None:
        status = self.jobs.get(job_id)
        return dataclasses.replace(status) if status else None

    async def update(self, job_id: str, **changes: object) -> JobStatus:
        if job_id not in self.jobs:
            raise NotFoundError(f"no job {job_id}")
        current = self.jobs[job_id]
        if current.state.terminal:  # like the Redis store: end states are final
            changes = {k: v for k, v in changes.items() if k not in FROZEN_WHEN_ENDED}
        extra = dict(current.extra)
        plain: dict[str, Any] = {}
        defaults = {f.name: f.default for f in dataclasses.fields(JobStatus)}
        for key, value in changes.items():
            if key.startswith("x_"):
                extra[key[2:]] = str(value)
            elif value is None:  # like the Redis store: None removes the field
                plain[key] = defaults[key]
            else:
                plain[key] = JobState(str(value)) if key == "state" else value
        self.jobs[job_id] = dataclasses.replace(
            current,
            **plain,
            extra=extra,
            updated_at=time.time(),
        )
        return dataclasses.replace(self.jobs[job_id])

    async def update_active(self, job_id: str, **changes: object) -> JobStatus | None:
        if job_id in self.jobs and self.jobs[job_id].state.terminal:
            return None
        return await self.update(job_id, **changes)


FROZEN_WHEN_ENDED = frozenset({"state", "progress", "error", "attempts"})


class FakeQueue:
    """A list-backed queue with pending entries, redelivery counts and a dead-letter list."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, str]]] = []
        self.pending: dict[str, QueueMessage] = {}
        self.dead: list[tuple[QueueMessage, str]] = []
        self.acked: list[str] = []
        self._next = 0
        self._cursor = 0

    async def ensure_group(self) -> None:
        return None

    async def enqueue(self, fields: Mapping[str, str]) -> str:
        self._next += 1
        msg_id = f"{self._next}-0"
        self.entries.append((msg_id, dict(fields)))
        return msg_id

    async def read(self, consumer: str, count: int = 1, block_ms: int = 0) -> list[QueueMessage]:
        out: list[QueueMessage] = []
        while self._cursor < len(self.entries) and len(out) < count:
            msg_id, fields = self.entries[self._cursor]
            self._cursor += 1
            message = QueueMessage(msg_id, dict(fields), 1)
            self.pending[msg_id] = message
            out.append(message)
        return out

    async def ack(self, msg_id: str) -> None:
        self.pending.pop(msg_id, None)
        self.acked.append(msg_id)

    async def touch(self, consumer: str, msg_id: str) -> None:
        return None

    async def keep_alive(self, consumer: str, ttl_ms: int) -> None:
        return None

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int = 10) -> list[QueueMessage]:
        return []

    async def dead_letter(self, message: QueueMessage, reason: str) -> str:
        self.dead.append((message, reason))
        await self.ack(message.msg_id)
        return f"dead-{len(self.dead)}"

    async def release(self, message: QueueMessage, changes: Mapping[str, str]) -> str:
        await self.ack(message.msg_id)
        return await self.enqueue({**message.fields, **changes})

    async def depth(self) -> int:
        return len(self.entries)

    async def lag(self) -> int:
        return len(self.entries) - self._cursor

    async def dead_count(self) -> int:
        return len(self.dead)


class MemoryRateLimiter:
    """Counts hits per caller; over ``per_minute`` raises like the Redis limiter."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.hits: dict[str, int] = {}

    async def hit(self, who: str, limit: int | None = None) -> None:
        allowed = self.per_minute if limit is None else limit
        self.hits[who] = self.hits.get(who, 0) + 1
        if allowed and self.hits[who] > allowed:
            raise RateLimitedError(f"rate limit of {allowed} requests per minute", 42)
