"""Submissions with a good token: queued and audited; bad clips and lookups refused and audited."""

from __future__ import annotations

import hashlib
from typing import Any

from shared.audit.chain import verify
from shared.domain.jobs import JobState
from tests.unit.services.private.conftest import SIGNED_CLIP, TAMPERED_CLIP, World


async def _submit(world: World, clip: bytes = SIGNED_CLIP, **form: str) -> Any:
    data = {"case_id": "CASE-1", "tracks": "4, 1", **form}
    return await world.client.post(
        "/v1/reconstructions",
        headers=world.issuer.header(case_id="CASE-1"),
        files={"file": ("clip.mp4", clip, "video/mp4")},
        data=data,
    )


async def test_good_token_queues_one_job_and_audits_accepted(world: World) -> None:
    response = await _submit(world)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert world.queue.messages == [{"job_id": job_id}]
    job = world.jobs.jobs[job_id]
    assert job.state is JobState.QUEUED
    assert job.extra["case_id"] == "CASE-1" and job.extra["tracks"] == "1,4"
    assert world.objects.objects[job.extra["upload_key"]] == SIGNED_CLIP
    entry = world.audit.snapshot[-1]
    assert entry.outcome == "accepted" and entry.actor == "officer-7"
    assert entry.clip_sha256 == hashlib.sha256(SIGNED_CLIP).hexdigest()
    assert entry.tracks == "1,4" and entry.case_id == "CASE-1" and job_id in entry.detail


async def test_tampered_clip_is_refused_with_422_and_audited(world: World) -> None:
    response = await _submit(world, TAMPERED_CLIP)
    assert response.status_code == 422
    assert "signature" in response.json()["detail"]
    assert world.queue.messages == [] and world.objects.objects == {}
    entry = world.audit.snapshot[-1]
    assert entry.outcome == "refused:tampered"
    assert entry.clip_sha256 == hashlib.sha256(TAMPERED_CLIP).hexdigest()


async def test_unsigned_file_is_refused_as_bad_clip(world: World) -> None:
    response = await _submit(world, b"just some bytes")
    assert response.status_code == 422
    assert world.audit.snapshot[-1].outcome == "refused:bad-clip"
    assert world.queue.messages == []


async def test_missing_case_id_is_refused_and_audited(world: World) -> None:
    response = await world.client.post(
        "/v1/reconstructions",
        headers=world.issuer.header(case_id="CASE-1"),
        files={"file": ("clip.mp4", SIGNED_CLIP, "video/mp4")},
    )
    assert response.status_code == 422
    assert "case_id" in response.json()["detail"]
    assert world.audit.snapshot[-1].outcome == "refused:bad-request"
    assert world.queue.messages == []


async def test_bad_tracks_and_mode_are_refused(world: World) -> None:
    assert (await _submit(world, tracks="one,two")).status_code == 422
    assert (await _submit(world, mode="magic")).status_code == 422
    assert world.queue.messages == []
    assert [e.outcome for e in world.audit.snapshot] == ["refused:bad-request"] * 2


async def test_oversize_upload_is_refused_with_413_and_audited(world: World) -> None:
    response = await _submit(world, SIGNED_CLIP + b"\x00" * 80 * 1024)
    assert response.status_code == 413
    assert world.audit.snapshot[-1].outcome == "refused:too-large"
    assert world.objects.objects == {}


async def test_status_then_result_after_the_job_is_done(world: World) -> None:
    job_id = (await _submit(world)).json()["job_id"]
    headers = world.issuer.header(case_id="CASE-1")
    status = await world.client.get(f"/v1/reconstructions/{job_id}", headers=headers)
    assert status.status_code == 200
    assert status.json()["state"] == "queued" and status.json()["tracks"] == "1,4"
    early = await world.client.get(f"/v1/reconstructions/{job_id}/result", headers=headers)
    assert early.status_code == 409
    world.objects.objects[f"results/{job_id}.mp4"] = b"restored video"
    await world.jobs.update(job_id, state=JobState.DONE, result_key=f"results/{job_id}.mp4")
    result = await world.client.get(f"/v1/reconstructions/{job_id}/result", headers=headers)
    assert result.status_code == 200 and result.content == b"restored video"
    outcomes = [e.outcome for e in world.audit.snapshot]
    assert outcomes == ["accepted", "status", "refused:not-ready", "download"]
    assert verify(world.audit.snapshot).ok


async def test_unknown_job_is_404_and_audited(world: World) -> None:
    response = await world.client.get(
        "/v1/reconstructions/" + "f" * 32, headers=world.issuer.header(case_id="CASE-1")
    )
    assert response.status_code == 404
    assert world.audit.snapshot[-1].outcome == "refused:unknown-job"


async def test_job_of_another_case_looks_exactly_like_an_unknown_job(world: World) -> None:
    """No existence oracle: the same 404 and body, whether the job is another case's or absent."""
    job_id = (await _submit(world)).json()["job_id"]
    await world.jobs.update(job_id, state=JobState.DONE, result_key=f"results/{job_id}.mp4")
    other = world.issuer.header(case_id="CASE-2")
    unknown = "e" * 32
    for suffix in ("", "/result"):
        theirs = await world.client.get(f"/v1/reconstructions/{job_id}{suffix}", headers=other)
        absent = await world.client.get(f"/v1/reconstructions/{unknown}{suffix}", headers=other)
        assert theirs.status_code == absent.status_code == 404
        assert theirs.json()["detail"].replace(job_id, unknown) == absent.json()["detail"]
    outcomes = [e.outcome for e in world.audit.snapshot[-4:]]  # the log keeps the real reason
    assert outcomes == ["refused:case-mismatch", "refused:unknown-job"] * 2


async def test_probes_answer(world: World) -> None:
    assert (await world.client.get("/healthz")).json() == {"status": "ok"}
    assert (await world.client.get("/readyz")).status_code == 200
