"""gRPC servicer of the public service, served in-process on loopback, against fakes of the ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import CollectorRegistry

from services.common.grpc_metrics import MetricsInterceptor
from services.common.grpc_server import build_grpc_server, mark_serving
from services.common.metrics import GrpcMetrics
from services.public_deid import bootstrap, grpc_api
from shared.domain.jobs import JobState
from tests.unit.services.public.conftest import KEY_A, KEY_B, Wired
from uunet_api.common.v1 import jobs_pb2
from uunet_api.deid.v1 import deid_pb2, deid_pb2_grpc

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(300_000)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest_asyncio.fixture
async def channel(wired: Wired, registry: CollectorRegistry) -> AsyncIterator[grpc.aio.Channel]:
    jobs = bootstrap.deid_jobs(wired.settings, wired.adapters, probe=None)
    gate = bootstrap.build_gate(wired.settings, wired.adapters)
    servicer = grpc_api.DeidServicer(jobs, gate, watch_interval_s=0.01)
    interceptor = MetricsInterceptor(GrpcMetrics(registry, "g"))
    server, health = build_grpc_server(
        [grpc_api.registration(servicer)], [grpc_api.SERVICE_NAME], [interceptor]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await mark_serving(health, [grpc_api.SERVICE_NAME])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    await server.stop(None)


def parts(data: bytes = CLIP, chunk: int = 64 * 1024, metadata_first: bool = True):
    if metadata_first:
        yield deid_pb2.UploadClipRequest(
            metadata=deid_pb2.ClipMetadata(filename="cam1.mp4", attributes=["beard=keep"])
        )
    for i in range(0, len(data), chunk):
        yield deid_pb2.UploadClipRequest(chunk=data[i : i + chunk])


def meta(key: str) -> tuple[tuple[str, str], ...]:
    return (("x-api-key", key),)


async def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code()


async def test_upload_queues_a_job_and_get_job_reports_it(
    channel: grpc.aio.Channel, wired: Wired
) -> None:
    stub = deid_pb2_grpc.DeidServiceStub(channel)
    job_id = (await stub.UploadClip(parts(), metadata=meta(KEY_A))).job_id
    job = await stub.GetJob(deid_pb2.GetJobRequest(job_id=job_id), metadata=meta(KEY_A))
    assert job.state == jobs_pb2.JOB_STATE_QUEUED and job.job_id == job_id
    assert wired.objects.data[f"raw/{job_id}"] == CLIP
    assert wired.queue.entries[0][1]["attributes"] == "beard=keep"


async def test_upload_errors_map_to_status_codes(channel: grpc.aio.Channel, wired: Wired) -> None:
    stub = deid_pb2_grpc.DeidServiceStub(channel)
    no_key = await code_of(stub.UploadClip(parts()))
    bad_key = await code_of(stub.UploadClip(parts(), metadata=meta("uuk_nope")))
    no_meta = await code_of(stub.UploadClip(parts(metadata_first=False), metadata=meta(KEY_A)))
    too_big = await code_of(stub.UploadClip(parts(bytes(1024 * 1024 + 1)), metadata=meta(KEY_A)))
    assert (no_key, bad_key) == (grpc.StatusCode.UNAUTHENTICATED,) * 2
    assert no_meta == grpc.StatusCode.INVALID_ARGUMENT
    assert too_big == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert wired.queue.entries == [] and wired.objects.data == {}


async def test_rate_limit_is_resource_exhausted(channel: grpc.aio.Channel) -> None:
    stub = deid_pb2_grpc.DeidServiceStub(channel)
    for _ in range(3):
        await stub.UploadClip(parts(b"abc"), metadata=meta(KEY_B))
    code = await code_of(stub.UploadClip(parts(b"abc"), metadata=meta(KEY_B)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_unknown_or_foreign_job_is_not_found(channel: grpc.aio.Channel) -> None:
    stub = deid_pb2_grpc.DeidServiceStub(channel)
    job_id = (await stub.UploadClip(parts(b"abc"), metadata=meta(KEY_A))).job_id
    unknown = deid_pb2.GetJobRequest(job_id="f" * 32)
    foreign = deid_pb2.GetJobRequest(job_id=job_id)
    assert await code_of(stub.GetJob(unknown, metadata=meta(KEY_A))) == grpc.StatusCode.NOT_FOUND
    assert await code_of(stub.GetJob(foreign, metadata=meta(KEY_B))) == grpc.StatusCode.NOT_FOUND


async def test_watch_streams_until_terminal_and_download_streams_the_result(
    channel: grpc.aio.Channel, wired: Wired
) -> None:
    stub = deid_pb2_grpc.DeidServiceStub(channel)
    job_id = (await stub.UploadClip(parts(b"abc"), metadata=meta(KEY_A))).job_id
    request = deid_pb2.GetJobRequest(job_id=job_id)
    early = await code_of(_drain(stub.DownloadResult(request, metadata=meta(KEY_A))))
    assert early == grpc.StatusCode.FAILED_PRECONDITION

    async def work() -> None:
        for p in (0.25, 0.5, 1.0):
            await asyncio.sleep(0.05)
            await wired.jobs.update(job_id, state=JobState.RUNNING, progress=p)
        await asyncio.sleep(0.05)
        result = b"r" * (3 << 20)
        await wired.objects.put_bytes(f"results/{job_id}.mp4", result)
        await wired.jobs.update(job_id, state=JobState.DONE, result_key=f"results/{job_id}.mp4")

    worker = asyncio.create_task(work())
    seen = [j async for j in stub.WatchJob(request, metadata=meta(KEY_A))]
    await worker
    assert seen[0].state == jobs_pb2.JOB_STATE_QUEUED
    assert seen[-1].state == jobs_pb2.JOB_STATE_DONE
    assert [j.progress for j in seen if j.state == jobs_pb2.JOB_STATE_RUNNING] == [0.25, 0.5, 1.0]
    chunks = [c.data async for c in stub.DownloadResult(request, metadata=meta(KEY_A))]
    assert b"".join(chunks) == b"r" * (3 << 20) and len(chunks) == 3


async def _drain(call) -> None:
    async for _ in call:
        pass


async def test_health_and_reflection_are_served(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    overall = await health.Check(health_pb2.HealthCheckRequest(service=""))
    deid = await health.Check(health_pb2.HealthCheckRequest(service=grpc_api.SERVICE_NAME))
    assert overall.status == deid.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names = set()
    async for resp in refl.ServerReflectionInfo(iter([request])):
        names |= {s.name for s in resp.list_services_response.service}
    assert {"uunet.deid.v1.DeidService", "grpc.health.v1.Health"} <= names


async def test_calls_are_counted_by_method_and_status_code(
    channel: grpc.aio.Channel, registry: CollectorRegistry
) -> None:
    stub = deid_pb2_grpc.DeidServiceStub(channel)
    unknown = deid_pb2.GetJobRequest(job_id="e" * 32)

    def count(method: str, code: str) -> float:
        labels = {"method": f"/uunet.deid.v1.DeidService/{method}", "code": code}
        return registry.get_sample_value("g_grpc_calls_total", labels) or 0.0

    await code_of(stub.GetJob(unknown, metadata=meta(KEY_A)))
    await stub.UploadClip(parts(b"abc"), metadata=meta(KEY_A))
    await code_of(_drain(stub.WatchJob(unknown, metadata=meta(KEY_A))))
    assert (count("GetJob", "NOT_FOUND"), count("UploadClip", "OK")) == (1.0, 1.0)
    assert count("WatchJob", "NOT_FOUND") == 1.0


async def test_watch_of_a_job_that_never_finishes_ends_at_its_deadline(wired: Wired) -> None:
    jobs = bootstrap.deid_jobs(wired.settings, wired.adapters, probe=None)
    gate = bootstrap.build_gate(wired.settings, wired.adapters)
    servicer = grpc_api.DeidServicer(jobs, gate, watch_interval_s=0.01, watch_timeout_s=0.3)
    server, _health = build_grpc_server([grpc_api.registration(servicer)], [], [])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = deid_pb2_grpc.DeidServiceStub(ch)
            job_id = (await stub.UploadClip(parts(), metadata=meta(KEY_A))).job_id  # stays queued
            watch = stub.WatchJob(deid_pb2.GetJobRequest(job_id=job_id), metadata=meta(KEY_A))
            states = []
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async with asyncio.timeout(10):  # the old stream never ended
                    async for job in watch:
                        states.append(job.state)
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert states == [jobs_pb2.JOB_STATE_QUEUED]
    finally:
        await server.stop(None)
