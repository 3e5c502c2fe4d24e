"""The public service while S3 is down: uploads get a quick 503 / UNAVAILABLE (not 500, not a hang),
readiness says so, and a job queued just before the outage waits and finishes once S3 is back."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio

from services.common.serve import ApiServer
from services.common.worker import run_worker
from services.public_deid import bootstrap
from services.public_deid.auth import hash_key
from shared.devstack.servers import RedisServer, S3Server
from shared.video.synthetic import SceneSpec, write_clip
from tests.integration.services.test_public_service import local_settings, real_pipeline
from uunet_api.deid.v1 import deid_pb2, deid_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = f"uuk_outage-{uuid.uuid4().hex}"


@pytest_asyncio.fixture(scope="module")
async def outage_stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[S3Server, ApiServer, Path]]:
    tmp = tmp_path_factory.mktemp("outage")
    s3 = S3Server(tmp / "s3").start()  # our own: this test stops it
    keys_file = tmp / "api_keys.json"
    keys_file.write_text(json.dumps({"vendor": hash_key(KEY)}))
    settings = local_settings(redis_server, s3, keys_file, tmp / "work")
    adapters = bootstrap.real_adapters(settings)
    await adapters.start()
    api = ApiServer(bootstrap.build_api(settings, adapters, bootstrap.default_probe(settings)))
    await api.start()
    worker_adapters = bootstrap.real_adapters(settings)
    worker = bootstrap.build_worker(
        settings, worker_adapters, real_pipeline(tmp / "keys"), metrics_port=None
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(worker, stop))
    clip = tmp / "clip.mp4"
    write_clip(clip, SceneSpec(width=160, height=120, frames=8, face_px=(44, 52)))
    yield s3, api, clip
    stop.set()
    await asyncio.wait_for(task, 60)
    await api.stop()
    s3.stop()


async def test_s3_outage_gives_503_and_loses_no_job(outage_stack) -> None:  # type: ignore[no-untyped-def]
    s3, api, clip = outage_stack
    headers = {"X-API-Key": KEY}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.http_port}", timeout=30) as http:

        async def post() -> httpx.Response:
            return await http.post("/v1/clips", headers=headers, files={"file": clip.open("rb")})

        queued = await post()
        assert queued.status_code == 202, queued.text
        s3.stop()  # the outage starts before the worker has fetched the clip (or while it does)
        started = time.monotonic()
        refused = await post()
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "5"
        assert refused.json() == {"detail": "the object store is unavailable; try again shortly"}
        assert time.monotonic() - started < 10  # a quick answer, not a hang
        assert (await http.get("/readyz")).status_code == 503
        async with grpc.aio.insecure_channel(f"127.0.0.1:{api.grpc_port}") as channel:
            stub = deid_pb2_grpc.DeidServiceStub(channel)

            async def parts():  # type: ignore[no-untyped-def]
                yield deid_pb2.UploadClipRequest(metadata=deid_pb2.ClipMetadata(filename="c.mp4"))
                yield deid_pb2.UploadClipRequest(chunk=clip.read_bytes())

            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.UploadClip(parts(), metadata=(("x-api-key", KEY),), timeout=30)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        await asyncio.sleep(3)
        s3.start()  # same port, same data
        job = queued.json()["job_id"]
        deadline = time.monotonic() + 120
        while (status := (await http.get(f"/v1/jobs/{job}", headers=headers)).json())[
            "state"
        ] not in ("done", "failed"):
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.2)
        assert status["state"] == "done", status
        assert (await http.get("/readyz")).status_code == 200
        assert (await post()).status_code == 202
