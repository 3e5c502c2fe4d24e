"""The private service in-process against real Redis and real S3: REST and gRPC submissions with a
good token come back restored; bad tokens and a tampered clip are refused, nothing is queued, and
everything is audited; ``uunet audit verify`` passes, then detects an entry edited in Redis.
Forensic requests: a lossless restore is exact in the face boxes, the original file comes back bit
for bit, each comes with a signed custody record, and clips that cannot serve them get 422."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import pytest_asyncio
from pydantic import SecretStr
from redis.asyncio import Redis

from services.common.serve import ApiServer
from services.common.worker import run_worker
from services.private_reid import bootstrap
from services.private_reid.desk import raw_key
from services.private_reid.settings import PrivateSettings
from shared.audit.anchor import AuditAnchorer
from shared.audit.chain import verify
from shared.devstack.servers import S3Server
from shared.ports import AuditEntry
from tests.integration.services.private_helpers import (
    AUDIENCE,
    ISSUER,
    ReidAssets,
    face_error,
    frames_of,
    make_assets,
)
from uunet_api.common.v1 import jobs_pb2
from uunet_api.reid.v1 import reid_pb2, reid_pb2_grpc
from uunet_cli.main import main as uunet

pytestmark = pytest.mark.integration
AUDIT_KEY = "it-audit-key-" + "0" * 40


@dataclass
class Running:
    settings: PrivateSettings
    adapters: bootstrap.Adapters
    rest_url: str
    grpc_target: str
    redis: Redis
    metrics_port: int | None

    async def audit(self) -> list[AuditEntry]:
        return [e async for e in self.adapters.audit.entries()]

    async def queued(self) -> int:
        return int(await self.redis.xlen(self.settings.stream))


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> ReidAssets:
    return make_assets(tmp_path_factory.mktemp("reid-assets"))


def _settings(assets: ReidAssets, redis_url: str, s3: S3Server, work: Path) -> PrivateSettings:
    tag = uuid.uuid4().hex[:8]
    return PrivateSettings(
        redis_url=SecretStr(redis_url),
        s3_endpoint=s3.endpoint,
        s3_access_key=SecretStr(s3.access_key),
        s3_secret_key=SecretStr(s3.secret_key),
        s3_bucket=f"reid-{tag}",
        keys_dir=assets.keys_dir,
        jwt_public_key_file=assets.issuer_pub,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        weights_key_file=assets.weights_key,
        encrypted_weights=assets.encrypted_weights,
        http_host="127.0.0.1",
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        stream=f"it{tag}:reid:jobs",
        job_prefix=f"it{tag}:reid:",
        audit_prefix=f"it{tag}:audit",
        audit_key=SecretStr(AUDIT_KEY),
        audit_anchor_bucket="it-audit-anchors",
        audit_anchor_interval_s=0.2,
        rate_limit_per_minute=10_000,  # these tests poll every 0.1 s from one address
        work_dir=work,
        max_upload_mb=20,
    )


@pytest_asyncio.fixture(scope="module")
async def private(
    assets: ReidAssets,
    redis_url: str,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Running]:
    settings = _settings(assets, redis_url, s3_server, tmp_path_factory.mktemp("work"))
    api_adapters = bootstrap.real_adapters(settings, anchor=True)
    await api_adapters.start()
    server = ApiServer(
        bootstrap.build_api(settings, api_adapters, bootstrap.clip_verifier(settings))
    )
    await server.start()
    worker_adapters = bootstrap.real_adapters(settings)
    process = bootstrap.build_worker(
        settings, worker_adapters, bootstrap.load_reidentify(settings), None
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(process, stop))
    redis = Redis.from_url(redis_url)
    yield Running(
        settings,
        api_adapters,
        f"http://127.0.0.1:{server.http_port}",
        f"127.0.0.1:{server.grpc_port}",
        redis,
        server.metrics_port,
    )
    stop.set()
    await asyncio.wait_for(worker, 30)
    await server.stop()
    await redis.aclose()


async def _wait_for(check: Any, timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


def _assert_restored(assets: ReidAssets, restored: Path) -> None:
    original, public, back = (frames_of(p) for p in (assets.source, assets.public_clip, restored))
    assert back.shape == original.shape
    restored_err = face_error(original, back, assets.boxes)
    surrogate_err = face_error(original, public, assets.boxes)
    assert restored_err < surrogate_err / 3, (restored_err, surrogate_err)


async def _rest_job_done(
    client: httpx.AsyncClient, headers: dict[str, str], clip: Path, form: dict[str, str]
) -> str:
    """Submit ``clip`` over REST and wait until its job is done; returns the job id."""
    url = "/v1/reconstructions"
    files = {"file": (clip.name, clip.read_bytes(), "video/mp4")}
    response = await client.post(url, headers=headers, files=files, data=form)
    assert response.status_code == 202, response.text
    job_id = str(response.json()["job_id"])

    async def finished() -> bool:
        status = (await client.get(f"{url}/{job_id}", headers=headers)).json()
        return bool(status["state"] in ("done", "failed"))

    await _wait_for(finished)
    status = (await client.get(f"{url}/{job_id}", headers=headers)).json()
    assert status["state"] == "done", status
    return job_id


async def _job_outcomes(private: Running, job_id: str) -> list[str]:
    return [e.outcome for e in await private.audit() if job_id in e.detail]


async def test_rest_submission_with_good_token_is_restored_audited_and_cleaned(
    private: Running, assets: ReidAssets, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {assets.token()}"}
    url = "/v1/reconstructions"
    async with httpx.AsyncClient(base_url=private.rest_url, timeout=30) as client:
        job_id = await _rest_job_done(client, headers, assets.public_clip, {"case_id": "CASE-1"})
        result = await client.get(f"{url}/{job_id}/result", headers=headers)
        assert result.status_code == 200
    restored = tmp_path / "restored.mp4"
    restored.write_bytes(result.content)
    _assert_restored(assets, restored)

    async def raw_gone() -> bool:
        return not await private.adapters.objects.exists(raw_key(job_id))

    await _wait_for(raw_gone, 10)
    await _wait_for(lambda: _has(private, job_id, "done"), 10)
    outcomes = await _job_outcomes(private, job_id)
    assert outcomes[0] == "accepted" and "done" in outcomes and outcomes[-1] == "download"


async def _has(private: Running, job_id: str, outcome: str) -> bool:
    return outcome in await _job_outcomes(private, job_id)


async def test_rest_refuses_bad_tokens_and_a_tampered_clip_without_queueing(
    private: Running, assets: ReidAssets
) -> None:
    before = await private.queued()
    cases = [
        (None, assets.public_clip, 401, "refused:missing-token"),
        (assets.token(iss="https://evil.test"), assets.public_clip, 401, "refused:wrong-issuer"),
        (assets.token(scope="read"), assets.public_clip, 403, "refused:missing-scope"),
        (assets.token(), assets.tampered_clip, 422, "refused:tampered"),
    ]
    async with httpx.AsyncClient(base_url=private.rest_url, timeout=30) as client:
        for token, clip, status, outcome in cases:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            files = {"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}
            response = await client.post(
                "/v1/reconstructions", headers=headers, files=files, data={"case_id": "CASE-1"}
            )
            assert response.status_code == status, response.text
            assert (await private.audit())[-1].outcome == outcome
    assert await private.queued() == before


async def test_grpc_submission_restores_and_refusals_have_the_right_codes(
    private: Running, assets: ReidAssets, tmp_path: Path
) -> None:
    def auth(token: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token}"),)

    async def requests(clip: Path) -> AsyncIterator[reid_pb2.SubmitReconstructionRequest]:
        meta = reid_pb2.ReconstructionMetadata(case_id="CASE-1", tracks=[1])
        yield reid_pb2.SubmitReconstructionRequest(metadata=meta)
        data = clip.read_bytes()
        for i in range(0, len(data), 32 * 1024):
            yield reid_pb2.SubmitReconstructionRequest(chunk=data[i : i + 32 * 1024])

    token = assets.token()
    async with grpc.aio.insecure_channel(private.grpc_target) as channel:
        stub = reid_pb2_grpc.ReidServiceStub(channel)
        before = await private.queued()
        refusals = [
            ((), assets.public_clip, grpc.StatusCode.UNAUTHENTICATED),
            (
                auth(assets.token(scope="read")),
                assets.public_clip,
                grpc.StatusCode.PERMISSION_DENIED,
            ),
            (auth(token), assets.tampered_clip, grpc.StatusCode.INVALID_ARGUMENT),
        ]
        for metadata, clip, code in refusals:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SubmitReconstruction(requests(clip), metadata=metadata)
            assert err.value.code() == code
        assert await private.queued() == before

        reply = await stub.SubmitReconstruction(requests(assets.public_clip), metadata=auth(token))
        get = reid_pb2.GetReconstructionRequest(job_id=reply.job_id)
        states = [job.state async for job in stub.WatchReconstruction(get, metadata=auth(token))]
        assert states[-1] == jobs_pb2.JOB_STATE_DONE
        chunks = [c.data async for c in stub.DownloadReconstruction(get, metadata=auth(token))]
    restored = tmp_path / "restored-grpc.mp4"
    restored.write_bytes(b"".join(chunks))
    _assert_restored(assets, restored)
    outcomes = [e.outcome for e in await private.audit()]
    assert {"refused:missing-token", "refused:missing-scope", "refused:tampered"} <= set(outcomes)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{private.rest_url}/metrics")).status_code == 404
        metrics = (await client.get(f"http://127.0.0.1:{private.metrics_port}/metrics")).text
    assert 'code="UNAUTHENTICATED"' in metrics and 'code="PERMISSION_DENIED"' in metrics
    assert 'uunet_private_refused_total{reason="tampered"}' in metrics


async def test_grpc_health_and_reflection_are_served(private: Running) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with grpc.aio.insecure_channel(private.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(
            health_pb2.HealthCheckRequest(service="uunet.reid.v1.ReidService")
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        names: list[str] = []
        async for answer in reflection.ServerReflectionInfo(ask()):
            names += [s.name for s in answer.list_services_response.service]
        assert "uunet.reid.v1.ReidService" in names


async def test_audit_verify_passes_then_detects_an_entry_edited_in_redis(
    private: Running, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    await private.adapters.audit.append(
        actor="it", case_id="CASE-1", clip_sha256="", tracks="", outcome="status", detail="x"
    )
    key_file = tmp_path / "audit.key"
    key_file.write_text(AUDIT_KEY)
    argv = ["audit", "verify", "--redis-url", private.settings.secret("redis_url")]
    argv += ["--prefix", private.settings.audit_prefix, "--key-file", str(key_file)]
    assert await asyncio.to_thread(uunet, argv) == 0
    count = len(await private.audit())
    assert f"OK: {count} entries, chain and MACs intact" in capsys.readouterr().out
    export = tmp_path / "audit.jsonl"
    export_argv = ["audit", "export", "--redis-url", argv[3], "--prefix", argv[5]]
    assert await asyncio.to_thread(uunet, [*export_argv, "-o", str(export)]) == 0
    file_argv = ["audit", "verify", "--file", str(export), "--key-file", str(key_file)]
    assert await asyncio.to_thread(uunet, file_argv) == 0

    key = f"{private.settings.audit_prefix}:entries"
    stored = await private.redis.lindex(key, 1)
    assert isinstance(stored, bytes)
    original = stored.decode()
    edited = json.loads(original) | {"case_id": "CASE-FORGED"}
    await private.redis.lset(key, 1, json.dumps(edited))
    capsys.readouterr()
    try:
        assert await asyncio.to_thread(uunet, argv) == 1
        out = capsys.readouterr().out
        assert "FAILED: first bad entry at index 1 (seq 1)" in out and "edited" in out
    finally:
        await private.redis.lset(key, 1, original)
    assert verify(await private.audit(), key=AUDIT_KEY.encode()).ok


async def test_the_api_anchors_the_audit_head_in_the_locked_bucket(private: Running) -> None:
    """The API's own loop anchors the moving head; the anchors check the log it holds."""
    store = bootstrap.anchor_store(private.settings)
    for _ in range(50):  # the API anchors every 0.2 s once its log is not empty
        if await store.anchors():
            break
        await asyncio.sleep(0.1)
    assert await store.anchors(), "the API wrote no anchor"
    await private.adapters.audit.append(
        actor="it", case_id="CASE-1", clip_sha256="", tracks="", outcome="status", detail="y"
    )
    anchorer = AuditAnchorer(private.adapters.audit, store, interval_s=3600)
    written = await anchorer.anchor_once()
    entries = await private.audit()
    assert written is not None and written.count == len(entries)
    anchors = await store.anchors()
    assert len(anchors) >= 2  # the API's and this one
    assert verify(entries, key=AUDIT_KEY.encode(), anchors=anchors).ok


def _custody_key(assets: ReidAssets) -> Any:
    from shared.crypto.signing import load_public_key

    return load_public_key(assets.keys_dir / "custody_ed25519.pub.pem")


async def test_rest_lossless_restore_is_exact_with_a_signed_custody_record(
    private: Running, assets: ReidAssets
) -> None:
    from shared.audit.custody import SignedCustody, verify_custody
    from shared.pipeline.container import read_box

    headers = {"Authorization": f"Bearer {assets.token()}"}
    url = "/v1/reconstructions"
    form = {"case_id": "CASE-1", "mode": "sealed", "lossless": "true"}
    async with httpx.AsyncClient(base_url=private.rest_url, timeout=30) as client:
        job_id = await _rest_job_done(client, headers, assets.public_clip, form)
        result = (await client.get(f"{url}/{job_id}/result", headers=headers)).content
        custody = (await client.get(f"{url}/{job_id}/custody", headers=headers)).json()
    signed = SignedCustody.from_json(json.dumps(custody))
    verify_custody(_custody_key(assets), signed)
    rec, emb = signed.record, read_box(assets.public_clip)
    assert rec.output_sha256 == hashlib.sha256(result).hexdigest()
    assert rec.manifest_sha256 == hashlib.sha256(emb.manifest_bytes).hexdigest()
    assert rec.public_clip_sha256 == hashlib.sha256(assets.public_clip.read_bytes()).hexdigest()
    assert (rec.case_id, rec.subject, rec.mode, rec.lossless) == (
        "CASE-1",
        "officer-it",
        "sealed",
        True,
    )
    restored = assets.public_clip.parent / f"{job_id}.mp4"
    restored.write_bytes(result)
    original, back = frames_of(assets.source), frames_of(restored)
    for f in emb.manifest.faces:
        box = (f.frame, slice(f.y, f.y + f.h), slice(f.x, f.x + f.w))
        assert np.array_equal(original[box], back[box])
    assert "custody" in await _job_outcomes(private, job_id)
    key_file = assets.public_clip.parent / "audit.key"
    key_file.write_text(AUDIT_KEY)
    argv = ["audit", "verify", "--redis-url", private.settings.secret("redis_url"), "--prefix",
            private.settings.audit_prefix, "--key-file", str(key_file), "--custody-key",
            str(assets.keys_dir / "custody_ed25519.pub.pem")]  # fmt: skip
    assert await asyncio.to_thread(uunet, argv) == 0


async def test_rest_refuses_requests_the_clip_cannot_serve_with_422(
    private: Running, assets: ReidAssets
) -> None:
    before = await private.queued()
    cases = [
        (assets.foreign_seal_clip, {"mode": "sealed"}, "made for authority key", "wrong-key"),
        (assets.public_clip, {"original": "true"}, "no sealed original file", "bad-clip"),
    ]
    headers = {"Authorization": f"Bearer {assets.token()}"}
    async with httpx.AsyncClient(base_url=private.rest_url, timeout=30) as client:
        for clip, form, reason, code in cases:
            files = {"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}
            response = await client.post("/v1/reconstructions", headers=headers, files=files,
                                         data={"case_id": "CASE-1", **form})  # fmt: skip
            assert response.status_code == 422 and reason in response.json()["detail"]
            assert (await private.audit())[-1].outcome == f"refused:{code}"
    assert await private.queued() == before


async def test_grpc_original_returns_the_input_file_and_its_custody_record(
    private: Running, assets: ReidAssets
) -> None:
    from shared.audit.custody import SignedCustody, verify_custody

    auth = (("authorization", f"Bearer {assets.token()}"),)

    async def requests(clip: Path) -> AsyncIterator[reid_pb2.SubmitReconstructionRequest]:
        meta = reid_pb2.ReconstructionMetadata(case_id="CASE-1", original=True)
        yield reid_pb2.SubmitReconstructionRequest(metadata=meta)
        yield reid_pb2.SubmitReconstructionRequest(chunk=clip.read_bytes())

    async with grpc.aio.insecure_channel(private.grpc_target) as channel:
        stub = reid_pb2_grpc.ReidServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.SubmitReconstruction(requests(assets.public_clip), metadata=auth)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "no sealed original file" in str(err.value.details())
        reply = await stub.SubmitReconstruction(requests(assets.both_clip), metadata=auth)
        get = reid_pb2.GetReconstructionRequest(job_id=reply.job_id)
        states = [job.state async for job in stub.WatchReconstruction(get, metadata=auth)]
        assert states[-1] == jobs_pb2.JOB_STATE_DONE
        chunks = [c.data async for c in stub.DownloadReconstruction(get, metadata=auth)]
        custody = await stub.GetCustody(get, metadata=auth)
    assert b"".join(chunks) == assets.source.read_bytes()
    signed = SignedCustody.from_json(custody.record_json)
    verify_custody(_custody_key(assets), signed)
    digest = hashlib.sha256(assets.source.read_bytes()).hexdigest()
    assert signed.record.mode == "original" and signed.record.output_sha256 == digest
