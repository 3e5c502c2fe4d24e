"""Forensic options over REST: lossless and original flow into the job; a clip that cannot serve
the request is refused with 422 before anything is stored; the custody record beside the result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.audit.chain import verify
from shared.domain.jobs import JobState
from tests.unit.services.private.conftest import (
    FOREIGN_SEAL_CLIP,
    SIGNED_CLIP,
    UNSEALED_CLIP,
    World,
)


async def _submit(world: World, clip: bytes = SIGNED_CLIP, **form: str) -> Any:
    return await world.client.post(
        "/v1/reconstructions",
        headers=world.issuer.header(case_id="CASE-1"),
        files={"file": ("clip.mp4", clip, "video/mp4")},
        data={"case_id": "CASE-1", **form},
    )


async def test_lossless_and_original_flags_reach_the_job_and_the_audit(world: World) -> None:
    lossless = (await _submit(world, mode="sealed", lossless="true")).json()["job_id"]
    original = (await _submit(world, original="1")).json()["job_id"]
    assert world.jobs.jobs[lossless].extra["lossless"] == "1"
    assert world.jobs.jobs[lossless].extra["original"] == ""
    assert world.jobs.jobs[original].extra["original"] == "1"
    details = [e.detail for e in world.audit.snapshot]
    assert details[0].endswith("mode sealed lossless") and details[1].endswith("original")


async def test_a_flag_that_is_not_a_boolean_is_refused(world: World) -> None:
    response = await _submit(world, lossless="perhaps")
    assert response.status_code == 422 and "lossless" in response.json()["detail"]
    assert world.queue.messages == [] and world.objects.objects == {}


@pytest.mark.parametrize(
    ("clip", "form", "reason", "outcome"),
    [
        (UNSEALED_CLIP, {"mode": "sealed"}, "no sealed originals", "refused:bad-clip"),
        (UNSEALED_CLIP, {"original": "true"}, "no sealed originals", "refused:bad-clip"),
        (FOREIGN_SEAL_CLIP, {"mode": "sealed"}, "authority key", "refused:wrong-key"),
    ],
)
async def test_a_clip_that_cannot_serve_the_request_is_422_and_nothing_is_stored(
    world: World, clip: bytes, form: dict[str, str], reason: str, outcome: str
) -> None:
    response = await _submit(world, clip, **form)
    assert response.status_code == 422 and reason in response.json()["detail"]
    assert world.queue.messages == [] and world.objects.objects == {} and world.jobs.jobs == {}
    assert world.audit.snapshot[-1].outcome == outcome


async def test_custody_record_is_served_beside_the_result_once_done(world: World) -> None:
    job_id = (await _submit(world, original="true")).json()["job_id"]
    headers = world.issuer.header(case_id="CASE-1")
    early = await world.client.get(f"/v1/reconstructions/{job_id}/custody", headers=headers)
    assert early.status_code == 409
    record = {"job_id": job_id, "output_sha256": "ab" * 32, "signature": "cd" * 64}
    world.objects.objects[f"results/{job_id}.custody.json"] = json.dumps(record).encode()
    world.objects.objects[f"results/{job_id}.original"] = b"the original file"
    await world.jobs.update(job_id, state=JobState.DONE, result_key=f"results/{job_id}.original")
    custody = await world.client.get(f"/v1/reconstructions/{job_id}/custody", headers=headers)
    assert custody.status_code == 200 and custody.json() == record
    result = await world.client.get(f"/v1/reconstructions/{job_id}/result", headers=headers)
    assert result.content == b"the original file"
    assert result.headers["content-type"] == "application/octet-stream"
    assert f'filename="{job_id}.original"' in result.headers["content-disposition"]
    outcomes = [e.outcome for e in world.audit.snapshot]
    assert outcomes == ["accepted", "refused:not-ready", "custody-record", "download"]
    assert verify(world.audit.snapshot).ok
