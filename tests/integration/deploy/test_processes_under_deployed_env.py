"""The APIs start under the exact env and secret files that docker-compose.yml and the Helm chart
give them, and answer the probes that the image HEALTHCHECK (docker/healthcheck.py) and the chart
use.

Real processes (`python -m services.<part> api`) against the session's real Redis and S3 servers;
only host names and secret mount points are mapped to the test's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.adapters.s3_store import S3Config
from shared.crypto.keys import init_keyset
from tests.integration.deploy.tools import REPO, compose_env, one, render

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SERVICES = {
    "public-api": ("public", "services.public_deid"),
    "private-api": ("private", "services.private_reid"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secrets_dir(tmp_path: Path, s3: S3Config) -> Path:
    """What compose mounts at /run/secrets, with real contents."""
    secrets = tmp_path / "run-secrets"
    init_keyset(secrets)
    for side in ("public", "private"):
        (secrets / f"{side}_s3_access_key").write_text(s3.access_key)
        (secrets / f"{side}_s3_secret_key").write_text(s3.secret_key)
    digest = hashlib.sha256(b"uuk_test").hexdigest()
    (secrets / "api_keys.json").write_text(json.dumps({"vendor-a": digest}))
    pem = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (secrets / "jwt_public.pem").write_bytes(pem)
    return secrets


def _env(service: str, secrets: Path, redis_url: str, s3: S3Config) -> tuple[dict[str, str], int]:
    part, _ = SERVICES[service]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    prefix = f"UUNET_{part.upper()}_"
    env = compose_env(service)
    mounted = compose["services"][service]["secrets"]
    targets = {s if isinstance(s, str) else s.get("target", s["source"]) for s in mounted}
    for key, value in env.items():
        if value.startswith("/run/secrets"):
            name = value.removeprefix("/run/secrets").lstrip("/")
            assert not name or name in targets, f"{key} names a secret compose does not mount"
            env[key] = str(secrets / name)
    port = _free_port()
    env |= {
        f"{prefix}REDIS_URL": redis_url,
        f"{prefix}S3_ENDPOINT": s3.endpoint,
        f"{prefix}S3_BUCKET": s3.bucket,
        f"{prefix}HTTP_PORT": str(port),
        f"{prefix}GRPC_PORT": str(_free_port()),
        f"{prefix}HTTP_HOST": "127.0.0.1",
    }
    return env, port


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def _chart_env(
    part: str, tmp_path: Path, redis_url: str, s3: S3Config
) -> tuple[dict[str, str], int]:
    """The chart's API container env, its secret volumes laid out as the kubelet would."""
    docs = render(part, "production", ("--set", "redis.auth.enabled=false"))
    spec = one(docs, "Deployment", "-api")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    source = _secrets_dir(tmp_path, s3)
    contents = {
        "s3-access-key": s3.access_key,
        "s3-secret-key": s3.secret_key,
    }
    root = tmp_path / "pod"
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        target = root / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = target
        for item in volume.get("secret", {}).get("items", []):
            name = item["key"]
            text = contents.get(name) or (source / name).read_text()
            (target / item["path"]).write_text(text)
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    for key, value in env.items():
        for mount_path, local in mounts.items():
            if value.startswith(mount_path + "/") or value == mount_path:
                env[key] = str(local) + value.removeprefix(mount_path)
    assert all(not v.startswith("/var/run/secrets") for v in env.values()), "unmounted path"
    prefix = f"UUNET_{part.upper()}_"
    port = _free_port()
    env |= {
        f"{prefix}REDIS_URL": redis_url,
        f"{prefix}S3_ENDPOINT": s3.endpoint,
        f"{prefix}S3_BUCKET": s3.bucket,
        f"{prefix}HTTP_PORT": str(port),
        f"{prefix}GRPC_PORT": str(_free_port()),
        f"{prefix}HTTP_HOST": "127.0.0.1",
    }
    # Presigned URLs are signed offline; the public endpoint needs no DNS here.
    return env, port


@pytest.fixture
def started(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, s3_settings: S3Config
) -> Iterator[tuple[str, int, dict[str, str]]]:
    source, service = request.param
    if source == "compose":
        env, port = _env(service, _secrets_dir(tmp_path, s3_settings), redis_url, s3_settings)
    else:
        env, port = _chart_env(SERVICES[service][0], tmp_path, redis_url, s3_settings)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UUNET_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", SERVICES[service][1], "api"],
        cwd=REPO,
        env=clean | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while _get(f"http://127.0.0.1:{port}/healthz") != 200:
            if proc.poll() is not None:
                pytest.fail(f"{service} exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
            assert time.monotonic() < deadline, f"{service} did not answer /healthz"
            time.sleep(0.3)
        yield service, port, clean | env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


CASES = [(source, service) for source in ("compose", "helm") for service in sorted(SERVICES)]


@pytest.mark.parametrize("started", CASES, indirect=True, ids=[f"{a}-{b}" for a, b in CASES])
def test_api_under_deployed_env_is_ready_and_passes_the_image_healthcheck(
    started: tuple[str, int, dict[str, str]],
) -> None:
    service, port, env = started
    deadline = time.monotonic() + 30
    while _get(f"http://127.0.0.1:{port}/readyz") != 200:
        assert time.monotonic() < deadline, f"{service} never became ready (Redis and S3 are up)"
        time.sleep(0.3)
    part = SERVICES[service][0]
    probe = [sys.executable, str(REPO / "docker" / "healthcheck.py"), part, "api"]
    ok = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    # The same probe fails on a port where nothing listens.
    dead = env | {f"UUNET_{part.upper()}_HTTP_PORT": str(_free_port())}
    bad = subprocess.run(probe, env=dead, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "unhealthy" in bad.stderr
