"""SIGTERM on the real public worker process in the middle of a job (compose env, real Redis and
S3): the process exits within its drain plus a few seconds, the job goes back to the stream at
once (``queued``, nothing pending), and a second worker process finishes it. This is what lets
the chart's and compose's grace periods be the drain plus a margin rather than the job limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.adapters.s3_store import S3Config
from tests.integration.deploy.harness import (
    API_KEY,
    MODULES,
    Servers,
    compose_process_env,
    make_pool,
    running,
    start,
    stop,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DRAIN_S = 0.3


def _status(client: httpx.Client, job: str) -> dict[str, Any]:
    resp = client.get(f"/v1/jobs/{job}", headers={"X-API-Key": API_KEY})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _wait(client: httpx.Client, job: str, done: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status = _status(client, job)
    while not done(status):
        assert time.monotonic() < deadline, f"gave up waiting: {status}"
        time.sleep(0.2)
        status = _status(client, job)
    return status


@pytest.fixture
def public(tmp_path: Path, redis_url: str, s3_settings: S3Config) -> Iterator[dict[str, Any]]:
    """The public API, and the worker's compose env (started by the test itself)."""
    pool = make_pool(tmp_path, s3_settings, with_weights=True)
    servers = Servers(redis_url, s3_settings)
    bucket = f"{s3_settings.bucket}-public"
    api_env, api_ports = compose_process_env("public-api", pool, tmp_path, servers, bucket)
    worker_env, worker_ports = compose_process_env(
        "public-worker-cpu", pool, tmp_path, servers, bucket
    )
    worker_env["UUNET_PUBLIC_SHUTDOWN_DRAIN_S"] = str(DRAIN_S)
    # Longer than the test: the job can only come back by being handed back.
    worker_env["UUNET_PUBLIC_VISIBILITY_TIMEOUT_S"] = "3600"
    base = f"http://127.0.0.1:{api_ports['http']}"
    with running(MODULES["public"], "api", api_env, f"{base}/readyz"):
        yield {
            "base": base,
            "worker_env": worker_env,
            "worker_probe": f"http://127.0.0.1:{worker_ports['metrics']}/metrics",
        }


def test_sigterm_mid_job_hands_the_job_back_and_another_worker_finishes_it(
    public: dict[str, Any], tmp_path: Path
) -> None:
    from shared.video.synthetic import SceneSpec, write_clip

    clip = tmp_path / "long.mp4"
    write_clip(clip, SceneSpec(160, 120, frames=300, fps=Fraction(25), face_px=(44, 48)))
    worker_env, probe = public["worker_env"], public["worker_probe"]
    with httpx.Client(base_url=public["base"], timeout=60) as client:
        first = start(MODULES["public"], "worker", worker_env, probe)
        try:
            resp = client.post(
                "/v1/clips", headers={"X-API-Key": API_KEY}, files={"file": clip.open("rb")}
            )
            assert resp.status_code == 202, resp.text
            job = resp.json()["job_id"]
            _wait(client, job, lambda s: s["state"] == "running" and s["progress"] > 0, 120)
            t0 = time.monotonic()
            code = stop(first)
            exited_after = time.monotonic() - t0
        finally:
            stop(first)
        assert code == 0
        assert exited_after < DRAIN_S + 15, f"worker took {exited_after:.1f} s to stop"
        status = _status(client, job)
        assert status["state"] == "queued", status  # back in the stream, not left running

        second = start(MODULES["public"], "worker", worker_env, probe)
        t1 = time.monotonic()
        try:
            status = _wait(client, job, lambda s: s["state"] in ("done", "failed"), 240)
        finally:
            stop(second)
    assert status["state"] == "done", status
    print(
        f"first worker exited {exited_after:.1f} s after SIGTERM (drain {DRAIN_S} s); "
        f"the second finished the job in {time.monotonic() - t1:.1f} s"
    )
