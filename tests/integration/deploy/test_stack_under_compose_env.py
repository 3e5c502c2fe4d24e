"""A clip through both services, each process run under its docker-compose.yml env and holding
only the secrets compose mounts into it (production profile: no dev defaults).

Public API + CPU worker de-identify a synthetic clip uploaded with an API key; private API +
worker restore it for a bearer token, the worker opening the encrypted private weights with the
weights key. Proves the compose wiring (streams, groups, buckets, key subsets, *_FILE secrets)
works end to end, not only that it parses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from shared.adapters.s3_store import S3Config
from tests.integration.deploy.harness import (
    API_KEY,
    MODULES,
    Pool,
    Servers,
    compose_process_env,
    make_pool,
    running,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CASE = "CASE-DEPLOY-1"


def _wait_done(client: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = client.get(url, headers=headers).json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"job not finished: {status}")


def _token(pool: Pool, issuer: str, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": "officer-deploy", "iat": now}
    claims |= {"exp": now + 600, "scope": "reconstruct", "case_id": CASE}
    return jwt.encode(claims, pool.issuer_key, algorithm="EdDSA")


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, s3_settings: S3Config) -> Iterator[dict[str, Any]]:
    """Both sides' APIs and workers, started from their compose definitions."""
    pool = make_pool(tmp_path, s3_settings, with_weights=True)
    servers = Servers(redis_url, s3_settings)
    urls: dict[str, Any] = {"pool": pool}
    with ExitStack() as stack:
        for service in ("public-api", "public-worker-cpu", "private-api", "private-worker"):
            part, role = service.split("-")[0], service.split("-")[1]
            bucket = f"{s3_settings.bucket}-{part}"
            env, ports = compose_process_env(service, pool, tmp_path, servers, bucket)
            port = ports["http"] if role == "api" else ports["metrics"]
            probe = f"http://127.0.0.1:{port}/" + ("readyz" if role == "api" else "metrics")
            stack.enter_context(running(MODULES[part], role, env, probe))
            if role == "api":
                urls[part] = f"http://127.0.0.1:{port}"
                urls[f"{part}_env"] = env
        yield urls


def test_clip_is_deidentified_and_restored_through_the_compose_services(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    from shared.video.decode import probe
    from shared.video.synthetic import SceneSpec, write_clip

    clip = tmp_path / "in.mp4"
    write_clip(clip, SceneSpec(160, 120, frames=10, fps=Fraction(25), face_px=(44, 48)))
    public = tmp_path / "public.mp4"
    headers = {"X-API-Key": API_KEY}
    with httpx.Client(base_url=stack["public"], timeout=60) as client:
        resp = client.post("/v1/clips", headers=headers, files={"file": clip.open("rb")})
        assert resp.status_code == 202, resp.text
        job = resp.json()["job_id"]
        status = _wait_done(client, f"/v1/jobs/{job}", headers)
        assert status["state"] == "done", status
        result = client.get(f"/v1/jobs/{job}/result", params={"stream": "true"}, headers=headers)
        assert result.status_code == 200
        public.write_bytes(result.content)
    assert probe(public).frames == probe(clip).frames

    env = stack["private_env"]
    token = _token(
        stack["pool"], env["UUNET_PRIVATE_JWT_ISSUER"], env["UUNET_PRIVATE_JWT_AUDIENCE"]
    )
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack["private"], timeout=60) as client:
        refused = client.post("/v1/reconstructions", files={"file": public.open("rb")})
        assert refused.status_code == 401
        resp = client.post(
            "/v1/reconstructions",
            headers=bearer,
            files={"file": public.open("rb")},
            data={"case_id": CASE},
        )
        assert resp.status_code == 202, resp.text
        job = resp.json()["job_id"]
        status = _wait_done(client, f"/v1/reconstructions/{job}", bearer)
        assert status["state"] == "done", status
        restored = client.get(f"/v1/reconstructions/{job}/result", headers=bearer)
        assert restored.status_code == 200
    back = tmp_path / "restored.mp4"
    back.write_bytes(restored.content)
    assert probe(back).frames == probe(clip).frames
