"""The reconstruction handler with fakes: result stored, custody record signed, stored and audited,
raw upload deleted, outcome audited."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry

from services.common.metrics import JobMetrics
from services.private_reid.desk import custody_key_for, raw_key, result_key_for
from services.private_reid.worker import HandlerOptions, ReidHandler
from shared.audit.chain import verify
from shared.audit.custody import CustodySigner, SignedCustody, check_entries, verify_custody
from shared.audit.memory import InMemoryAuditLog
from shared.domain.errors import BadInputError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.runner import JobContext
from shared.pipeline.api import ReidOptions, ReidReport
from tests.unit.services.private.fakes import FakeJobStore, FakeObjectStore

JOB = "a" * 32
CUSTODY_KEY = Ed25519PrivateKey.generate()


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
        mode_used="original" if options.original else options.mode,
        clip_sha256="x",
        seconds=0.1,
        manifest_sha256="m" * 64,
        output_sha256=hashlib.sha256(dst.read_bytes()).hexdigest(),
    )


async def _world(
    restore=_restore, **more: str
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
        **more,
    }
    await jobs.create(JobStatus(job_id=JOB, extra=extra))
    await objects.put_bytes(raw_key(JOB), b"clip")
    metrics = JobMetrics(CollectorRegistry(), "t")
    handler = ReidHandler(
        objects, jobs, audit, spy, metrics, HandlerOptions(), CustodySigner(CUSTODY_KEY)
    )
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


async def test_each_result_comes_with_a_signed_custody_record_stored_and_audited() -> None:
    handler, objects, _jobs, audit, _seen = await _world(lossless="1")
    await handler(_ctx([]))
    stored = SignedCustody.from_json(objects.objects[custody_key_for(JOB)].decode())
    verify_custody(CUSTODY_KEY.public_key(), stored)
    rec = stored.record
    assert (rec.case_id, rec.subject, rec.public_clip_sha256, rec.tracks) == (
        "C-1",
        "officer",
        "ab",
        "1,4",
    )
    assert rec.output_sha256 == hashlib.sha256(b"RESTORED:clip").hexdigest()
    assert rec.manifest_sha256 == "m" * 64 and rec.mode == "sealed" and rec.lossless
    entry = audit.snapshot[-1]
    assert entry.outcome == "custody" and json.loads(entry.detail) == json.loads(stored.to_json())
    assert verify(audit.snapshot).ok
    assert check_entries(audit.snapshot, CUSTODY_KEY.public_key()) == (1, "")


async def test_original_file_result_has_its_own_key() -> None:
    handler, objects, _jobs, _audit, seen = await _world(original="1")
    key = await handler(_ctx([]))
    assert key == result_key_for(JOB, original=True) and key.endswith(".original")
    assert seen[0].original and objects.objects[key] == b"RESTORED:clip"
    stored = SignedCustody.from_json(objects.objects[custody_key_for(JOB)].decode())
    assert stored.record.mode == "original"


async def test_finished_job_is_reused_without_running_again() -> None:
    handler, objects, _jobs, audit, seen = await _world()
    await objects.put_bytes(result_key_for(JOB), b"earlier")
    await objects.put_bytes(custody_key_for(JOB), b"{}")
    assert await handler(_ctx([])) == result_key_for(JOB)
    assert seen == [] and objects.objects[result_key_for(JOB)] == b"earlier"
    assert audit.snapshot == []


async def test_result_without_custody_record_runs_again() -> None:
    handler, objects, _jobs, _audit, seen = await _world()
    await objects.put_bytes(result_key_for(JOB), b"earlier, interrupted")
    await handler(_ctx([]))
    assert len(seen) == 1 and objects.objects[result_key_for(JOB)] == b"RESTORED:clip"
    assert custody_key_for(JOB) in objects.objects


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
