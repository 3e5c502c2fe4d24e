"""Jobs as the queue and the state store see them."""

from __future__ import annotations

import enum
import time
from dataclasses import asdict, dataclass, field
from typing import Any


class JobState(enum.StrEnum):
    """Life cycle of a job; ``done`` and ``failed`` are terminal."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED)


@dataclass(frozen=True)
class QueueMessage:
    """One delivery of a stream entry: ``msg_id`` is the stream id, ``deliveries`` counts attempts."""

    msg_id: str
    fields: dict[str, str]
    deliveries: int = 1


@dataclass
class JobStatus:
    """What ``GET /v1/jobs/{id}`` returns, and what the worker updates as it goes."""

    job_id: str
    state: JobState = JobState.QUEUED
    progress: float = 0.0
    error: str | None = None
    result_key: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    attempts: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def to_fields(self) -> dict[str, str]:
        """Flatten to string fields for a Redis hash."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if key == "extra":
                out.update({f"x_{k}": v for k, v in value.items()})
            elif value is None:
                continue
            else:
                out[key] = str(value.value if isinstance(value, JobState) else value)
        return out

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> JobStatus:
        """Inverse of :meth:`to_fields`."""
        extra = {k[2:]: str(v) for k, v in fields.items() if k.startswith("x_")}
        return cls(
            job_id=str(fields["job_id"]),
            state=JobState(fields.get("state", "queued")),
            progress=float(fields.get("progress", 0.0)),
            error=fields.get("error"),
            result_key=fields.get("result_key"),
            created_at=float(fields.get("created_at", 0.0)),
            updated_at=float(fields.get("updated_at", 0.0)),
            attempts=int(fields.get("attempts", 0)),
            extra=extra,
        )
