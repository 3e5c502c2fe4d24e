"""REST routes of the public service against in-memory fakes of the ports."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry

from services.public_deid import bootstrap
from shared.domain.jobs import JobState
from tests.unit.services.public.conftest import KEY_A, KEY_B, Wired
from uunet_cli.main import main as uunet

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(2000)


async def upload(client: httpx.AsyncClient, key: str | None, data: bytes = CLIP, **form: str):
    headers = {"X-API-Key": key} if key else {}
    files = {"file": ("clip.mp4", data, "video/mp4")}
    return await client.post("/v1/clips", headers=headers, files=files, data=form)


async def test_upload_with_good_key_queues_a_job_owned_by_that_key(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    resp = await upload(client, KEY_A, keep_audio="true", attributes="beard=keep")
    assert resp.status_code == 202
    job_id = resp.json()["job_id"]
    status = wired.jobs.jobs[job_id]
    assert status.state is JobState.QUEUED and status.extra["vendor"] == "vendor-a"
    assert wired.objects.data[f"raw/{job_id}"] == CLIP
    ((_, fields),) = wired.queue.entries
    assert fields["job_id"] == job_id and fields["keep_audio"] == "1"
    assert fields["attributes"] == "beard=keep" and fields["filename"] == "clip.mp4"


async def test_missing_or_unknown_key_is_401_and_nothing_is_queued(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    missing = await upload(client, None)
    wrong = await upload(client, "uuk_not-a-key")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "X-API-Key" in missing.json()["detail"]
    assert wrong.json()["detail"] == "invalid API key"
    assert wired.queue.entries == [] and wired.objects.data == {}


async def test_over_size_upload_is_413_and_nothing_is_stored(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    resp = await upload(client, KEY_A, data=bytes(1024 * 1024 + 1))
    assert resp.status_code == 413
    assert "size limit of 1 MiB" in resp.json()["detail"]
    assert wired.queue.entries == [] and wired.objects.data == {}


async def test_submissions_over_the_rate_limit_get_429_with_retry_after(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    codes = [(await upload(client, KEY_A)).status_code for _ in range(3)]
    over = await upload(client, KEY_A)
    other = await upload(client, KEY_B)
    assert codes == [202, 202, 202]
    assert over.status_code == 429 and over.headers["Retry-After"] == "42"
    assert other.status_code == 202  # the limit is per key
    assert len(wired.queue.entries) == 4


async def test_empty_file_missing_field_and_bad_attribute_are_422(
    client: httpx.AsyncClient,
) -> None:
    empty = await upload(client, KEY_A, data=b"")
    no_file = await client.post(
        "/v1/clips", headers={"X-API-Key": KEY_A}, files={"attributes": (None, "beard=keep")}
    )
    unknown = await client.post(
        "/v1/clips", headers={"X-API-Key": KEY_A}, files={"other": ("x", b"abc")}
    )
    bad_attr = await upload(client, KEY_B, attributes="beard=maybe")  # 3 per key and minute
    bad_flag = await upload(client, KEY_B, keep_audio="sometimes")
    not_multipart = await client.post("/v1/clips", headers={"X-API-Key": KEY_B}, content=b"x")
    answers = (empty, no_file, unknown, bad_attr, bad_flag, not_multipart)
    assert [r.status_code for r in answers] == [422] * 6
    assert "empty" in empty.json()["detail"]
    assert "'file'" in no_file.json()["detail"]
    assert unknown.json()["detail"] == "unknown form field 'other'"
    assert bad_attr.json()["detail"] == "attributes must look like name=keep,other=change"
    assert bad_flag.json()["detail"] == "form field 'keep_audio' must be true or false"


async def test_job_status_is_visible_only_to_its_owner(client: httpx.AsyncClient) -> None:
    job_id = (await upload(client, KEY_A)).json()["job_id"]
    own = await client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": KEY_A})
    other = await client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": KEY_B})
    unknown = await client.get(f"/v1/jobs/{'0' * 32}", headers={"X-API-Key": KEY_A})
    garbage = await client.get("/v1/jobs/../../etc", headers={"X-API-Key": KEY_A})
    assert own.status_code == 200
    assert own.json() == {"job_id": job_id, "state": "queued", "progress": 0.0, "error": None}
    assert (other.status_code, unknown.status_code) == (404, 404)
    assert garbage.status_code == 404


async def test_result_is_409_until_done_then_redirect_or_stream(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    headers = {"X-API-Key": KEY_A}
    job_id = (await upload(client, KEY_A)).json()["job_id"]
    early = await client.get(f"/v1/jobs/{job_id}/result", headers=headers)
    assert early.status_code == 409 and "queued" in early.json()["detail"]
    await wired.objects.put_bytes(f"results/{job_id}.mp4", b"mp4-bytes" * 1000)
    await wired.jobs.update(job_id, state=JobState.DONE, result_key=f"results/{job_id}.mp4")
    redirect = await client.get(f"/v1/jobs/{job_id}/result", headers=headers)
    streamed = await client.get(f"/v1/jobs/{job_id}/result?stream=1", headers=headers)
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(f"memory://get/results/{job_id}.mp4")
    assert streamed.status_code == 200 and streamed.content == b"mp4-bytes" * 1000
    assert streamed.headers["content-type"] == "video/mp4"


async def test_failed_job_reports_its_reason_and_result_is_409(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    headers = {"X-API-Key": KEY_A}
    job_id = (await upload(client, KEY_A)).json()["job_id"]
    await wired.jobs.update(job_id, state=JobState.FAILED, error="not a video file")
    status = (await client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
    result = await client.get(f"/v1/jobs/{job_id}/result", headers=headers)
    assert status["state"] == "failed" and status["error"] == "not a video file"
    assert result.status_code == 409 and "not a video file" in result.json()["detail"]


async def test_presigned_upload_flow_queues_after_complete(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    headers = {"X-API-Key": KEY_A}
    created = await client.post("/v1/uploads", headers=headers, json={"filename": "big.mp4"})
    assert created.status_code == 201
    body = created.json()
    upload_id = body["upload_id"]
    assert body["method"] == "PUT"
    assert body["url"].startswith(f"memory://put/raw/{upload_id}.upload")
    too_early = await client.post(f"/v1/uploads/{upload_id}/complete", headers=headers)
    assert too_early.status_code == 409
    await wired.objects.put_bytes(f"raw/{upload_id}.upload", CLIP)
    not_mine = await client.post(f"/v1/uploads/{upload_id}/complete", headers={"X-API-Key": KEY_B})
    done = await client.post(f"/v1/uploads/{upload_id}/complete", headers=headers)
    assert not_mine.status_code == 404
    assert done.status_code == 202 and done.json() == {"job_id": upload_id}
    assert wired.queue.entries[0][1]["filename"] == "big.mp4"
    assert set(wired.objects.data) == {f"raw/{upload_id}"}  # the copy; staging and pending gone


async def test_presigned_upload_over_the_limit_is_413_and_deleted(
    client: httpx.AsyncClient, wired: Wired
) -> None:
    headers = {"X-API-Key": KEY_A}
    upload_id = (await client.post("/v1/uploads", headers=headers, json={})).json()["upload_id"]
    await wired.objects.put_bytes(f"raw/{upload_id}.upload", bytes(1024 * 1024 + 1))
    resp = await client.post(f"/v1/uploads/{upload_id}/complete", headers=headers)
    assert resp.status_code == 413
    assert wired.objects.data == {} and wired.queue.entries == []


async def test_probes_metrics_and_openapi(wired: Wired) -> None:
    registry = CollectorRegistry()
    app = bootstrap.build_app(wired.settings, wired.adapters, None, registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await upload(client, KEY_A)
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        spec = (await client.get("/openapi.json")).json()  # the dev profile serves the docs
        docs = await client.get("/docs")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 503 and ready.json()["failed"] == ["s3"]
    labels = {"method": "POST", "route": "/v1/clips", "status": "202"}
    assert registry.get_sample_value("uunet_public_http_requests_total", labels) == 1.0
    body = spec["paths"]["/v1/clips"]["post"]["requestBody"]["content"]
    assert "file" in body["multipart/form-data"]["schema"]["properties"]
    assert {"/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/uploads"} <= set(spec["paths"])
    assert docs.status_code == 200


async def test_a_replaced_key_does_not_inherit_the_old_keys_jobs(
    client: httpx.AsyncClient, wired: Wired, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = (await upload(client, KEY_A)).json()["job_id"]
    keys_file = str(wired.settings.api_keys_file)
    assert uunet(["apikey", "create", "--file", keys_file, "--name", "vendor-a", "--force"]) == 0
    new_key = capsys.readouterr().out.strip()
    os.utime(keys_file, ns=(time.time_ns() + 10**9,) * 2)  # mtime moves on even within one tick
    new_headers = {"X-API-Key": new_key}
    assert (await client.get(f"/v1/jobs/{job_id}", headers=new_headers)).status_code == 404
    assert (await client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": KEY_A})).status_code == 401
    mine = (await upload(client, new_key)).json()["job_id"]
    assert (await client.get(f"/v1/jobs/{mine}", headers=new_headers)).status_code == 200
