"""docker-compose.yml validates against the compose spec and keeps its promises."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.integration.deploy.tools import REPO, interpolate, require_tool, run

COMPOSE = REPO / "docker-compose.yml"
PUBLIC = {"public-api", "public-worker-gpu", "public-worker-cpu", "redis", "minio", "minio-init"}
PRIVATE = {"private-api", "private-worker", "redis-private", "minio-private", "minio-private-init"}
KEYS = {"deid_secret.key", "keyset.json"}
PUBLIC_WORKER = {"public_s3_access_key", "public_s3_secret_key", "redis_url", "signing_ed25519.pem"}
PUBLIC_WORKER |= KEYS | {"authority_x25519.pub.pem"}
PRIVATE_BASE = {"private_s3_access_key", "private_s3_secret_key", "redis_url"}
PRIVATE_BASE |= KEYS | {"signing_ed25519.pub.pem", "audit_key"}
# Least privilege: the public API holds no key; only the private worker opens sealed originals.
EXPECTED_SECRETS = {
    "public-api": {"public_s3_access_key", "public_s3_secret_key", "redis_url", "api_keys.json"},
    "public-worker-gpu": PUBLIC_WORKER,
    "public-worker-cpu": PUBLIC_WORKER,
    "private-api": PRIVATE_BASE - {"deid_secret.key"} | {"jwt_public.pem"},
    "private-worker": PRIVATE_BASE | {"authority_x25519.pem", "weights.key", "private-weights.enc"},
}
# ... and each process its own S3 user and Redis user (the source behind each target).
OWN_CREDENTIALS = {
    "public-api": ("public_s3_api_access_key", "public_redis_url_api"),
    "public-worker-gpu": ("public_s3_worker_access_key", "public_redis_url_worker"),
    "public-worker-cpu": ("public_s3_worker_access_key", "public_redis_url_worker"),
    "private-api": ("private_s3_api_access_key", "private_redis_url_api"),
    "private-worker": ("private_s3_worker_access_key", "private_redis_url_worker"),
}
UUNET_SERVICES = {
    "public-api",
    "public-worker-gpu",
    "public-worker-cpu",
    "private-api",
    "private-worker",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_validates_against_the_compose_spec() -> None:
    checker = require_tool("check-jsonschema")
    result = run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_is_on_one_side(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == PUBLIC | PRIVATE


def test_private_side_shares_no_network_with_the_public_side(compose: dict[str, Any]) -> None:
    services = compose["services"]
    public_nets = {n for s in PUBLIC for n in services[s]["networks"]}
    private_nets = {n for s in PRIVATE for n in services[s]["networks"]}
    assert not public_nets & private_nets
    for name in PUBLIC:
        env = services[name].get("environment") or {}
        assert "private" not in " ".join(str(v) for v in env.values()), name
    # Back ends have no route out.
    assert compose["networks"]["public-backend"]["internal"] is True
    assert compose["networks"]["private-backend"]["internal"] is True


def test_gpu_and_cpu_profiles_run_the_public_worker(compose: dict[str, Any]) -> None:
    gpu, cpu = compose["services"]["public-worker-gpu"], compose["services"]["public-worker-cpu"]
    assert gpu["profiles"] == ["gpu"] and cpu["profiles"] == ["cpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["environment"]["UUNET_PUBLIC_DEVICE"] == "cuda"
    assert cpu["environment"]["UUNET_PUBLIC_DEVICE"] == "cpu"
    assert "deploy" not in cpu
    assert gpu["build"]["target"] == "public-worker-gpu"


def test_dependencies_wait_for_health_or_completion(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits on {dep} without healthcheck"
    for name in UUNET_SERVICES:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_redis_persists_refuses_writes_before_oom_and_has_acl_users(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("redis", "redis-private"):
        service = services[name]
        command = service["command"]
        assert command[command.index("--appendonly") + 1] == "yes"
        # Fsync before each reply: a job accepted (202) keeps its queue entry through a crash.
        assert command[command.index("--appendfsync") + 1] == "always"
        assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
        assert int(command[command.index("--maxmemory") + 1].removesuffix("mb")) < 1024
        assert service["mem_limit"] == "1g"
        assert any(v.endswith(":/data") for v in service["volumes"])
        assert service["entrypoint"] == ["sh", "/uunet/redis-start.sh"]
        assert service["environment"]["REDIS_USERS"] == "api worker admin"


def test_minio_is_the_maintained_build_with_a_bucket_and_users_made_at_start(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, bucket in (("minio", "uunet-public"), ("minio-private", "uunet-private")):
        assert services[name]["image"].startswith("pgsty/minio:RELEASE.")
        init = services[f"{name}-init"]
        assert init["image"].startswith("pgsty/mc:RELEASE.")
        assert init["entrypoint"] == ["bash", "/uunet/minio-init.sh"]
        assert init["environment"]["BUCKET"] == bucket
        assert init["depends_on"][name]["condition"] == "service_healthy"
        # The root user stays with MinIO and its init job.
        assert services[name]["environment"]["MINIO_ROOT_USER_FILE"].endswith("s3_root_access_key")
    root = {"public_s3_root_access_key", "private_s3_root_access_key"}
    for name in UUNET_SERVICES:
        assert not root & {
            s if isinstance(s, str) else s["source"] for s in services[name]["secrets"]
        }


def test_every_image_is_pinned_by_digest_or_built_here(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            continue  # built from this checkout by `docker compose build`
        assert re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", service["image"]), name


def test_published_ports_bind_localhost_by_default(compose: dict[str, Any]) -> None:
    """Nothing is reachable from other hosts until a TLS proxy (or UUNET_BIND) says so."""
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert interpolate(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_grace_periods_cover_the_drain_and_the_in_flight_uploads(compose: dict[str, Any]) -> None:
    """Workers: drain + hand-back margin (hand-back tested in test_worker_shutdown.py);
    APIs: the in-flight grace. Compose's default of 10 s would SIGKILL mid-job."""
    services = compose["services"]
    for name in UUNET_SERVICES:
        env = services[name]["environment"]
        prefix = "UUNET_PUBLIC_" if name.startswith("public") else "UUNET_PRIVATE_"
        grace = int(services[name]["stop_grace_period"].removesuffix("s"))
        if name.endswith("api"):
            assert grace > float(env[f"{prefix}SHUTDOWN_GRACE_S"])
        else:
            assert grace >= float(env[f"{prefix}SHUTDOWN_DRAIN_S"]) + 30


def test_every_log_is_rotated(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 2


def test_secrets_come_from_files_and_each_side_gets_only_its_keys(compose: dict[str, Any]) -> None:
    for name, secret in compose["secrets"].items():
        assert secret["file"].startswith("./secrets/"), name
    services = compose["services"]
    for name in UUNET_SERVICES:
        mounted = {
            (s if isinstance(s, str) else s.get("target", s["source"]))
            for s in services[name]["secrets"]
        }
        env = services[name]["environment"]
        for key, value in env.items():
            if key.endswith("_FILE"):
                target = str(value).removeprefix("/run/secrets/")
                assert target in mounted, f"{name}: {key} points at an unmounted secret"
        assert EXPECTED_SECRETS[name] == mounted, name
        sources = {s if isinstance(s, str) else s["source"] for s in services[name]["secrets"]}
        assert set(OWN_CREDENTIALS[name]) <= sources, name


def test_services_run_the_contract_commands_and_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "public-api": ("services.public_deid", "api"),
        "public-worker-gpu": ("services.public_deid", "worker"),
        "public-worker-cpu": ("services.public_deid", "worker"),
        "private-api": ("services.private_reid", "api"),
        "private-worker": ("services.private_reid", "worker"),
    }
    for name, (module, role) in expected.items():
        assert services[name]["command"] == ["python", "-m", module, role]
        assert services[name]["read_only"] is True
        assert services[name]["cap_drop"] == ["ALL"]
        user = re.fullmatch(
            r"\$\{UUNET_UID:-(\d+)\}:\$\{UUNET_GID:-(\d+)\}", services[name]["user"]
        )
        assert user and int(user.group(1)) >= 1000, "runs as a non-root user by default"
        assert not any(k.endswith("_DEV") for k in services[name]["environment"])
    assert interpolate(services["public-api"]["ports"][0]) == "127.0.0.1:8080:8080"
    assert "127.0.0.1:8081:8081" in services["private-api"]["ports"]
    assert services["public-api"]["environment"]["UUNET_PUBLIC_STREAM"] == "uunet:deid:jobs"
    assert services["private-worker"]["environment"]["UUNET_PRIVATE_STREAM"] == "uunet:reid:jobs"
