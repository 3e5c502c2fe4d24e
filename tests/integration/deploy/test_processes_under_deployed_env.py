"""The APIs start under the exact env and secret files that docker-compose.yml and the Helm chart
give them, and answer the probes that the image HEALTHCHECK (docker/healthcheck.py) and the chart
use. Real processes against the session's real Redis and S3 servers (see harness.py for what is
mapped).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.adapters.s3_store import S3Config
from tests.integration.deploy.harness import (
    MODULES,
    Pool,
    Servers,
    compose_process_env,
    free_port,
    http_status,
    make_bucket,
    make_pool,
    running,
)
from tests.integration.deploy.tools import REPO, one, render

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CASES = [(source, part) for source in ("compose", "helm") for part in ("public", "private")]


def _chart_env(part: str, pool: Pool, root: Path, servers: Servers) -> tuple[dict[str, str], int]:
    """The chart's API container env, its secret volumes laid out as the kubelet would."""
    docs = render(part, "production")
    spec = one(docs, "Deployment", "-api")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    by_key = {
        "s3-api-access-key": f"{part}_s3_access_key",
        "s3-api-secret-key": f"{part}_s3_secret_key",
        "audit-key": "audit_key",
    }
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        target = root / "pod" / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = target
        for item in volumes[mount["name"]].get("secret", {}).get("items", []):
            source = pool.files / by_key.get(item["key"], item["key"])
            (target / item["path"]).write_bytes(source.read_bytes())
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    for key, value in env.items():
        for mount_path, local in mounts.items():
            if value == mount_path or value.startswith(mount_path + "/"):
                env[key] = str(local) + value.removeprefix(mount_path)
    assert not [v for v in env.values() if v.startswith("/var/run/secrets")], "unmounted path"
    prefix, port = f"UUNET_{part.upper()}_", free_port()
    make_bucket(servers.s3, servers.s3.bucket)  # the chart's bucket job
    env |= {
        f"{prefix}REDIS_URL": servers.redis_url,
        f"{prefix}S3_ENDPOINT": servers.s3.endpoint,
        f"{prefix}S3_BUCKET": servers.s3.bucket,
        f"{prefix}HTTP_HOST": "127.0.0.1",
        f"{prefix}HTTP_PORT": str(port),
        f"{prefix}GRPC_PORT": str(free_port()),
        f"{prefix}METRICS_PORT": str(free_port()),
    }
    return env, port


@pytest.mark.parametrize(("source", "part"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_api_under_deployed_env_is_ready_and_passes_the_image_healthcheck(
    source: str, part: str, tmp_path: Path, redis_url: str, s3_settings: S3Config
) -> None:
    servers = Servers(redis_url, s3_settings)
    pool = make_pool(tmp_path, s3_settings, with_weights=False)
    if source == "compose":
        env, ports = compose_process_env(f"{part}-api", pool, tmp_path, servers, s3_settings.bucket)
        port = ports["http"]
    else:
        env, port = _chart_env(part, pool, tmp_path, servers)
    with running(MODULES[part], "api", env, f"http://127.0.0.1:{port}/healthz"):
        assert http_status(f"http://127.0.0.1:{port}/readyz") == 200
        probe = [sys.executable, str(REPO / "docker" / "healthcheck.py"), part, "api"]
        child_env = {"PATH": "/usr/bin:/bin", f"UUNET_{part.upper()}_HTTP_PORT": str(port)}
        ok = subprocess.run(probe, env=child_env, capture_output=True, text=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
    # The same probe fails once nothing listens there.
    bad = subprocess.run(probe, env=child_env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "unhealthy" in bad.stderr
