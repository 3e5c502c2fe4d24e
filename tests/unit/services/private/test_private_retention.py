"""Reconstructions do not linger: deleted once downloaded in full, or RESULT_TTL_S after the job is
done, and each deletion is in the audit log; a later download gets 410 (audited too)."""

from __future__ import annotations

import time

import httpx
from prometheus_client import CollectorRegistry

from services.private_reid.app import build_app
from services.private_reid.auth import AuthConfig, TokenVerifier
from services.private_reid.bootstrap import Adapters, retention
from services.private_reid.desk import Desk, DeskMetrics
from services.private_reid.refusals import RefusalAggregator
from services.private_reid.rest import RestOptions
from services.private_reid.settings import PrivateSettings
from shared.audit.chain import verify
from shared.audit.memory import InMemoryAuditLog
from shared.domain.jobs import JobState, JobStatus
from tests.unit.services.private.conftest import fake_verify_clip
from tests.unit.services.private.fakes import (
    AUDIENCE,
    ISSUER,
    FakeExpiryIndex,
    FakeJobStore,
    FakeObjectStore,
    FakeQueue,
    Issuer,
)
from tests.unit.services.public.fakes import MemoryRateLimiter

JOB = "a" * 32


async def rig(ttl_s: float = 3600.0) -> tuple[Desk, httpx.AsyncClient, Issuer]:
    issuer, registry = Issuer(), CollectorRegistry()
    adapters = Adapters(
        FakeObjectStore(),
        FakeJobStore(),
        FakeQueue(),
        InMemoryAuditLog(),
        MemoryRateLimiter(0),
        expiries=FakeExpiryIndex(),
    )
    settings = PrivateSettings(dev=True, result_ttl_s=ttl_s)
    desk = Desk(
        TokenVerifier(AuthConfig(ISSUER, AUDIENCE, public_key_pem=issuer.public_pem)),
        adapters.queue,
        adapters.jobs,
        adapters.objects,
        adapters.audit,
        fake_verify_clip,
        DeskMetrics(registry),
        adapters.limiter,
        RefusalAggregator(adapters.audit),
        retention=retention(settings, adapters),
        delete_after_download=True,
    )
    extra = {"case_id": "CASE-1", "actor": "officer", "clip_sha256": "ab" * 32, "tracks": ""}
    await desk.jobs.create(JobStatus(job_id=JOB, state=JobState.DONE, extra=extra))
    await desk.jobs.update(JOB, result_key=f"results/{JOB}.mp4")
    await desk.objects.put_bytes(f"results/{JOB}.mp4", b"restored video")
    assert desk.retention is not None
    await desk.retention.schedule(await desk.jobs.get(JOB))  # type: ignore[arg-type]
    app = build_app(desk, RestOptions(max_upload_bytes=1024), registry)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return desk, client, issuer


async def test_a_reconstruction_is_deleted_once_downloaded_and_that_is_audited() -> None:
    desk, client, issuer = await rig()
    headers = issuer.header(case_id="CASE-1")
    url = f"/v1/reconstructions/{JOB}/result"
    async with client:
        first = await client.get(url, headers=headers)
        again = await client.get(url, headers=headers)
    assert first.status_code == 200 and first.content == b"restored video"
    assert again.status_code == 410 and "downloaded by" in again.json()["detail"]
    assert not await desk.objects.exists(f"results/{JOB}.mp4")
    audit = desk.audit.snapshot  # type: ignore[attr-defined]
    assert [e.outcome for e in audit] == ["download", "deleted", "refused:gone"]
    assert audit[1].actor == "retention" and "downloaded by" in audit[1].detail
    assert verify(audit).ok


async def test_an_undownloaded_reconstruction_expires_and_that_is_audited() -> None:
    desk, client, issuer = await rig(ttl_s=60)
    assert desk.retention is not None
    assert await desk.retention.sweep_once() == 0  # not due yet
    assert await desk.retention.sweep_once(now=time.time() + 61) == 1
    assert await desk.retention.sweep_once(now=time.time() + 61) == 0  # deleted once
    assert not await desk.objects.exists(f"results/{JOB}.mp4")
    audit = desk.audit.snapshot  # type: ignore[attr-defined]
    assert [e.outcome for e in audit] == ["deleted"]
    assert (
        audit[0].detail == f"job {JOB} reconstruction deleted: expired 60 s after the job was done"
    )
    async with client:
        gone = await client.get(
            f"/v1/reconstructions/{JOB}/result", headers=issuer.header(case_id="CASE-1")
        )
    assert gone.status_code == 410
