"""Ports: the small interfaces the core and the services depend on.

Real adapters (Redis Streams, the ``minio`` SDK, files on disk) live in ``shared.adapters``; unit
tests hand in fakes of these Protocols. All I/O ports are async because the services are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shared.domain.jobs import JobStatus, QueueMessage


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of a stored object."""

    key: str
    size: int
    etag: str


class ObjectStore(Protocol):
    """A bucket of objects (S3 semantics)."""

    async def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> ObjectInfo: ...

    async def put_file(self, key: str, path: Path, content_type: str = ...) -> ObjectInfo: ...

    async def get_bytes(self, key: str, offset: int = 0, length: int | None = None) -> bytes: ...

    async def get_file(self, key: str, path: Path) -> None: ...

    def stream(self, key: str, chunk_size: int = ...) -> AsyncIterator[bytes]: ...

    async def stat(self, key: str) -> ObjectInfo: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def copy(self, src: str, dst: str) -> ObjectInfo: ...

    async def presigned_get(self, key: str, expires_s: int = ...) -> str: ...

    async def presigned_put(self, key: str, expires_s: int = ...) -> str: ...


class JobQueue(Protocol):
    """A durable queue with consumer groups, at-least-once delivery and a dead-letter stream."""

    async def ensure_group(self) -> None: ...

    async def enqueue(self, fields: Mapping[str, str]) -> str: ...

    async def read(
        self, consumer: str, count: int = 1, block_ms: int = ...
    ) -> list[QueueMessage]: ...

    async def ack(self, msg_id: str) -> None: ...

    async def touch(self, consumer: str, msg_id: str) -> None:
        """Heartbeat: reset the idle time of a message still being worked on."""

    async def keep_alive(self, consumer: str, ttl_ms: int) -> None:
        """Lease: ``consumer`` is alive for ``ttl_ms`` more; once it lapses, its messages are
        reclaimed without waiting for the visibility timeout."""

    async def reclaim(
        self, consumer: str, min_idle_ms: int, count: int = ...
    ) -> list[QueueMessage]:
        """Take over messages idle longer than ``min_idle_ms``, or whose consumer's lease lapsed."""

    async def dead_letter(self, message: QueueMessage, reason: str) -> str: ...

    async def release(self, message: QueueMessage, changes: Mapping[str, str]) -> str:
        """Hand a message back now (its fields updated by ``changes``): the next reader gets it."""

    async def depth(self) -> int: ...

    async def lag(self) -> int: ...

    async def dead_count(self) -> int:
        """Entries in the dead-letter stream (jobs that failed every attempt)."""


class JobStore(Protocol):
    """Job state and progress, readable by the API while a worker updates it.

    End states are final: once a job is ``done`` or ``failed`` its state, progress, error and
    attempts never change again, so a duplicate run (at-least-once delivery) cannot undo them.
    """

    async def create(self, status: JobStatus) -> None: ...

    async def get(self, job_id: str) -> JobStatus | None: ...

    async def update(self, job_id: str, **changes: object) -> JobStatus: ...

    async def update_active(self, job_id: str, **changes: object) -> JobStatus | None:
        """``update`` atomically, only if the job has not ended; None if it had (first end wins)."""


class ExpiryIndex(Protocol):
    """When each job's result is due for deletion: one schedule shared by every worker."""

    async def schedule(self, job_id: str, at: float) -> None: ...

    async def due(self, now: float, limit: int = ...) -> list[str]: ...

    async def claim(self, job_id: str) -> bool:
        """Take ``job_id`` off the schedule; True only for the one caller that took it."""


class KeyStore(Protocol):
    """Named secret or public key material (bytes); never logged."""

    def load(self, name: str) -> bytes: ...

    def has(self, name: str) -> bool: ...


@dataclass(frozen=True)
class AuditEntry:
    """One audited request; ``prev_hash``/``entry_hash`` make the log a hash chain."""

    seq: int
    at: float
    actor: str
    case_id: str
    clip_sha256: str
    tracks: str
    outcome: str
    detail: str
    prev_hash: str
    entry_hash: str
    mac: str = ""  # HMAC of entry_hash under the audit key, which the log's store never holds


class AuditLog(Protocol):
    """Append-only, hash-chained record of every request to the private service."""

    async def append(
        self, *, actor: str, case_id: str, clip_sha256: str, tracks: str, outcome: str, detail: str
    ) -> AuditEntry: ...

    def entries(self) -> AsyncIterator[AuditEntry]: ...

    async def head(self) -> tuple[int, str] | None: ...


@dataclass(frozen=True)
class AuditAnchor:
    """The log's head (entry count, last entry hash) as it was at ``at``, kept outside the log."""

    count: int
    head_hash: str
    at: float


class AuditAnchorStore(Protocol):
    """Append-only store of anchors (an object-locked bucket): nothing in it can be removed."""

    async def put(self, anchor: AuditAnchor) -> None: ...

    async def anchors(self) -> list[AuditAnchor]: ...
