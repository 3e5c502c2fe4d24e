"""The reconstruction handler with fakes: result stored, raw upload deleted, outcome audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.common.metrics import JobMetrics
from services.private_reid.desk import raw_key, result_key_for
from services.private_reid.worker import HandlerOptions, ReidHandler
from shared.audit.chain import verify
from shared.audit.memory import InMemoryAuditLog
from shared.domain.errors import BadInputError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.runner import JobContext
from shared.pipeline.api import ReidOptions, ReidReport
from tests.unit.services.private.fakes import FakeJobStore, FakeObjectStore

JOB = "a" * 32


def _restore(
    src: Path, dst: Path, options: ReidOptions, progress: Callable[[float], None]
) -> ReidReport:
    progress(0.5)
    dst.write_bytes(b"RESTORED:" + src.read_bytes())
    tracks = tuple(sorted(options.tracks or ()))
    return ReidReport(
        frames=4,
        faces_restored=3,
        tracks=tracks,
        mode_used=options.mode,
        clip_sha256="x",
        seconds=0.1,
    )


async def _world(
    restore=_restore,
) -> tuple[ReidHandler, FakeObjectStore, FakeJobStore, InMemoryAuditLog, list[ReidOptions]]:  # type: ignore[no-untyped-def]
    objects, jobs, audit = FakeObjectStore(), FakeJobStore(), InMemoryAuditLog()
    seen: list[ReidOptions] = []

    def spy(
        src: Path, dst: Path, options: ReidOptions, progress: Callable[[float], None]
    ) -> ReidReport:
        seen.append(options)
        return restore(src, dst, options, progress)

    extra = {
        "case_id": "C-1",
        "actor": "officer",
        "clip_sha256": "ab",
        "tracks": "1,4",
        "mode": "sealed",
        "upload_key": raw_key(JOB),
    }
    await jobs.create(JobStatus(job_id=JOB, extra=extra))
    await objects.put_bytes(raw_key(JOB), b"clip")
    metrics = JobMetrics(CollectorRegistry(), "t")
    handler = ReidHandler(objects, jobs, audit, spy, metrics, HandlerOptions())
    return handler, objects, jobs, audit, seen


def _ctx(progress_log: list[float]) -> JobContext:
    async def progress(fraction: float) -> None:
        progress_log.append(fraction)

    return JobContext(JOB, {"job_id": JOB}, 1, progress)


async def test_handler_restores_with_the_requested_tracks_and_mode() -> None:
    handler, objects, _jobs, _audit, seen = await _world()
    key = await handler(_ctx([]))
    assert key == result_key_for(JOB)
    assert objects.objects[key] == b"RESTORED:clip"
    assert seen[0].tracks == frozenset({1, 4}) and seen[0].mode == "sealed"


async def test_existing_result_is_reused_without_running_again() -> None:
    handler, objects, _jobs, _audit, seen = await _world()
    await objects.put_bytes(result_key_for(JOB), b"earlier")
    assert await handler(_ctx([])) == result_key_for(JOB)
    assert seen == [] and objects.objects[result_key_for(JOB)] == b"earlier"


async def test_vanished_upload_is_bad_input() -> None:
    handler, objects, _jobs, _audit, _seen = await _world()
    await objects.delete(raw_key(JOB))
    with pytest.raises(BadInputError, match="gone"):
        await handler(_ctx([]))


@pytest.mark.parametrize(
    ("state", "error", "outcome"),
    [(JobState.DONE, None, "done"), (JobState.FAILED, "tampered", "failed")],
)
async def test_on_terminal_deletes_raw_and_audits_the_outcome(
    state: JobState, error: str | None, outcome: str
) -> None:
    handler, objects, jobs, audit, _seen = await _world()
    status = await jobs.update(JOB, state=state, error=error)
    await handler.on_terminal(status)
    assert raw_key(JOB) not in objects.objects
    entry = audit.snapshot[-1]
    assert entry.outcome == outcome and entry.actor == "officer" and entry.case_id == "C-1"
    assert entry.tracks == "1,4" and JOB in entry.detail
    assert (error or "") in entry.detail
    assert verify(audit.snapshot).ok
