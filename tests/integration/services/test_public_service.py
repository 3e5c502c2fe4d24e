"""The public service end to end in one process: real uvicorn + gRPC + worker, real Redis and S3.

A synthetic face clip goes in over REST and over gRPC, the real pipeline runs in the worker (the
shipped checkpoint if present, else a tiny randomly initialised product model), the result comes
back decoded with the same frames and changed face regions, and the raw upload is gone.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import av
import grpc
import httpx
import numpy as np
import pytest
import pytest_asyncio
from pydantic import SecretStr

from services.common.serve import ApiServer
from services.common.worker import run_worker
from services.public_deid import bootstrap
from services.public_deid.auth import hash_key
from services.public_deid.settings import PublicSettings
from services.public_deid.worker import Deidentify
from shared.devstack.servers import RedisServer, S3Server
from shared.pipeline.api import DeidOptions, DeidReport, Progress
from shared.video.synthetic import SceneSpec, write_clip
from uunet_api.common.v1 import jobs_pb2
from uunet_api.deid.v1 import deid_pb2, deid_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = {f"vendor{i}": f"uuk_integration-key-{i}-{uuid.uuid4().hex}" for i in range(6)}


@dataclass
class Stack:
    settings: PublicSettings
    adapters: bootstrap.Adapters
    api: ApiServer
    http: httpx.AsyncClient
    grpc: grpc.aio.Channel
    clip: Path
    boxes: list[list[tuple[int, int, int, int]]]

    def headers(self, vendor: str) -> dict[str, str]:
        return {"X-API-Key": KEYS[vendor]}


def real_pipeline(keys_dir: Path) -> Deidentify:
    """deidentify_clip bound to a fresh key set and the shipped (or a tiny) public model."""
    from shared.crypto.keys import PublicSideKeys, init_keyset
    from shared.model.checkpoint import DEFAULT_CHECKPOINT
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine
    from shared.pipeline.api import deidentify_clip

    init_keyset(keys_dir)
    keys = PublicSideKeys.load(keys_dir)
    if DEFAULT_CHECKPOINT.exists():
        engine = UUNetEngine.load(None, part="public")
    else:
        engine = UUNetEngine.from_config(ModelConfig.product(0.0625), part="public")

    def run(src: Path, dst: Path, options: DeidOptions, progress: Progress) -> DeidReport:
        return deidentify_clip(src, dst, keys, engine, options, progress)

    return run


def local_settings(
    redis: RedisServer, s3: S3Server, keys_file: Path, work_dir: Path, **extra: object
) -> PublicSettings:
    """Settings of a public service on the given servers, its own bucket and stream, loopback."""
    return PublicSettings(
        redis_url=SecretStr(redis.url),
        s3_endpoint=s3.endpoint,
        s3_access_key=SecretStr(s3.access_key),
        s3_secret_key=SecretStr(s3.secret_key),
        s3_bucket=f"pub-{uuid.uuid4().hex[:12]}",
        stream=f"t{uuid.uuid4().hex[:8]}:deid:jobs",
        api_keys_file=keys_file,
        http_host="127.0.0.1",
        http_port=0,
        grpc_port=0,
        work_dir=work_dir,
        **extra,
    )


@pytest_asyncio.fixture(scope="module")
async def stack(
    redis_server: RedisServer, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("public")
    keys_file = tmp / "api_keys.json"
    keys_file.write_text(json.dumps({k: hash_key(v) for k, v in KEYS.items()}))
    settings = local_settings(
        redis_server,
        s3_server,
        keys_file,
        tmp / "work",
        max_upload_mb=1,
        rate_limit_per_minute=4,
        metrics_port=0,
    )
    adapters = bootstrap.real_adapters(settings)
    await adapters.start()
    api = ApiServer(bootstrap.build_api(settings, adapters, bootstrap.default_probe(settings)))
    await api.start()
    worker_adapters = bootstrap.real_adapters(settings)
    deidentify = real_pipeline(tmp / "keys")
    worker = bootstrap.build_worker(settings, worker_adapters, deidentify, metrics_port=None)
    stop = asyncio.Event()
    worker_task = asyncio.create_task(run_worker(worker, stop))
    clip = tmp / "faces.mp4"
    truth = write_clip(clip, SceneSpec(width=160, height=120, frames=12, face_px=(44, 52)))
    boxes = [[(int(b.x0), int(b.y0), int(b.x1), int(b.y1)) for b in frame] for frame in truth]
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.http_port}", timeout=30) as http,
        grpc.aio.insecure_channel(f"127.0.0.1:{api.grpc_port}") as channel,
    ):
        yield Stack(settings, adapters, api, http, channel, clip, boxes)
    stop.set()
    await asyncio.wait_for(worker_task, 60)
    await api.stop()


async def wait_terminal(stack: Stack, vendor: str, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = (await stack.http.get(f"/v1/jobs/{job_id}", headers=stack.headers(vendor))).json()
        if body["state"] in ("done", "failed"):
            return dict(body)
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def assert_faces_replaced(stack: Stack, result: Path) -> None:
    """Same frame count and size; face regions changed far more than the background."""
    src, out = frames(stack.clip), frames(result)
    assert out.shape == src.shape
    diff = np.abs(src.astype(np.int16) - out.astype(np.int16)).mean(axis=-1)
    inside = np.zeros(diff.shape, bool)
    for i, frame_boxes in enumerate(stack.boxes):
        for x0, y0, x1, y1 in frame_boxes:
            inside[i, max(y0, 0) : y1, max(x0, 0) : x1] = True
    assert inside.any()
    assert diff[inside].mean() > 3 * max(diff[~inside].mean(), 1.0)


async def test_rest_upload_is_de_identified_and_raw_upload_deleted(
    stack: Stack, tmp_path: Path
) -> None:
    headers = stack.headers("vendor0")
    started = time.perf_counter()
    resp = await stack.http.post(
        "/v1/clips", headers=headers, files={"file": ("faces.mp4", stack.clip.read_bytes())}
    )
    accept_s = time.perf_counter() - started
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]
    status = await wait_terminal(stack, "vendor0", job_id)
    assert status["state"] == "done" and status["progress"] == 1.0, status
    redirect = await stack.http.get(f"/v1/jobs/{job_id}/result", headers=headers)
    assert redirect.status_code == 302
    async with httpx.AsyncClient() as s3:
        presigned = await s3.get(redirect.headers["location"])
    streamed = await stack.http.get(f"/v1/jobs/{job_id}/result?stream=1", headers=headers)
    assert presigned.status_code == 200 and streamed.content == presigned.content
    result = tmp_path / "out.mp4"
    result.write_bytes(presigned.content)
    assert_faces_replaced(stack, result)
    assert not await stack.adapters.objects.exists(f"raw/{job_id}")
    print(
        f"REST accept latency {accept_s * 1000:.0f} ms; end-to-end {time.perf_counter() - started:.1f} s"
    )


async def test_grpc_upload_watch_and_download(stack: Stack, tmp_path: Path) -> None:
    stub = deid_pb2_grpc.DeidServiceStub(stack.grpc)
    meta = (("x-api-key", KEYS["vendor1"]),)
    data = stack.clip.read_bytes()

    def parts():
        yield deid_pb2.UploadClipRequest(metadata=deid_pb2.ClipMetadata(filename="faces.mp4"))
        for i in range(0, len(data), 16 * 1024):
            yield deid_pb2.UploadClipRequest(chunk=data[i : i + 16 * 1024])

    job_id = (await stub.UploadClip(parts(), metadata=meta)).job_id
    request = deid_pb2.GetJobRequest(job_id=job_id)
    seen = [job async for job in stub.WatchJob(request, metadata=meta, timeout=120)]
    assert seen[-1].state == jobs_pb2.JOB_STATE_DONE and seen[-1].progress == 1.0
    progress = [j.progress for j in seen]
    assert progress == sorted(progress)  # one update per change, never backwards
    out = tmp_path / "grpc.mp4"
    out.write_bytes(b"".join([c.data async for c in stub.DownloadResult(request, metadata=meta)]))
    assert_faces_replaced(stack, out)
    assert not await stack.adapters.objects.exists(f"raw/{job_id}")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetJob(deid_pb2.GetJobRequest(job_id="0" * 32), metadata=meta)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetJob(request, metadata=(("x-api-key", "uuk_wrong"),))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_bad_clip_through_presigned_upload_ends_failed_with_reason(stack: Stack) -> None:
    headers = stack.headers("vendor2")
    up = (await stack.http.post("/v1/uploads", headers=headers, json={"filename": "x.mp4"})).json()
    async with httpx.AsyncClient() as s3:
        put = await s3.put(up["url"], content=b"this is not a video" * 100)
    assert put.status_code == 200
    resp = await stack.http.post(f"/v1/uploads/{up['upload_id']}/complete", headers=headers)
    assert resp.status_code == 202
    status = await wait_terminal(stack, "vendor2", up["upload_id"])
    assert status["state"] == "failed" and "not a readable video" in status["error"]
    assert str(stack.settings.work_dir) not in status["error"]
    result = await stack.http.get(f"/v1/jobs/{up['upload_id']}/result", headers=headers)
    assert result.status_code == 409
    assert not await stack.adapters.objects.exists(f"raw/{up['upload_id']}")


async def test_rest_refusals_key_size_probe_rate_and_unknown_job(stack: Stack) -> None:
    http, clip = stack.http, stack.clip.read_bytes()

    async def post(vendor: str | None, data: bytes) -> httpx.Response:
        headers = stack.headers(vendor) if vendor else {"X-API-Key": "uuk_wrong"}
        return await http.post("/v1/clips", headers=headers, files={"file": ("c.mp4", data)})

    assert (await post(None, clip)).status_code == 401
    too_big = await post("vendor3", bytes(2 * 1024 * 1024))
    assert too_big.status_code == 413 and "size limit" in too_big.json()["detail"]
    junk = await post("vendor3", b"not a video at all")
    assert junk.status_code == 422 and "not a readable video" in junk.json()["detail"]
    assert str(stack.settings.work_dir) not in junk.json()["detail"]
    codes = [(await post("vendor4", b"")).status_code for _ in range(5)]
    assert codes == [422, 422, 422, 422, 429]  # the limit counts submissions, good or bad
    limited = await post("vendor4", clip)
    assert int(limited.headers["Retry-After"]) in range(1, 61)
    chunked = await http.post(
        "/v1/clips",
        headers={**stack.headers("vendor5"), "Content-Type": "multipart/form-data; boundary=b0"},
        content=_multipart_in_chunks(3 * 1024 * 1024),  # no Content-Length: checked as it streams
    )
    assert chunked.status_code == 413
    unknown = await http.get(f"/v1/jobs/{uuid.uuid4().hex}", headers=stack.headers("vendor3"))
    assert unknown.status_code == 404
    objects = stack.adapters.objects
    lifecycle = await asyncio.to_thread(objects.client.get_bucket_lifecycle, objects.bucket)  # type: ignore[attr-defined]
    assert lifecycle is not None
    rules = sorted((r.rule_filter.prefix, r.expiration.days) for r in lifecycle.rules)
    assert rules == [("raw/", 1), ("results/", 8)]  # results: 7 days, plus a day of backstop
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert (await http.get("/metrics")).status_code == 404  # never on the routed HTTP port
    async with httpx.AsyncClient() as scrape:
        metrics = (await scrape.get(f"http://127.0.0.1:{stack.api.metrics_port}/metrics")).text
    assert 'route="/v1/clips",status="413"' in metrics


async def _multipart_in_chunks(size: int) -> AsyncIterator[bytes]:
    yield b'--b0\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
    for _ in range(size // 65536):
        yield bytes(65536)
    yield b"\r\n--b0--\r\n"
