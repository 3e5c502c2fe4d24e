"""docker-compose.yml validates against the compose spec and keeps its promises."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.integration.deploy.tools import REPO, require_tool, run

COMPOSE = REPO / "docker-compose.yml"
PUBLIC = {"public-api", "public-worker-gpu", "public-worker-cpu", "redis", "minio", "minio-init"}
PRIVATE = {"private-api", "private-worker", "redis-private", "minio-private", "minio-private-init"}
KEYS = {"deid_secret.key", "keyset.json"}
PUBLIC_WORKER = {"public_s3_access_key", "public_s3_secret_key", "signing_ed25519.pem"}
PUBLIC_WORKER |= KEYS | {"authority_x25519.pub.pem"}
PRIVATE_BASE = {"private_s3_access_key", "private_s3_secret_key", "signing_ed25519.pub.pem"}
PRIVATE_BASE |= KEYS | {"audit_key"}
# Least privilege: the public API holds no key; only the private worker opens sealed originals.
EXPECTED_SECRETS = {
    "public-api": {"public_s3_access_key", "public_s3_secret_key", "api_keys.json"},
    "public-worker-gpu": PUBLIC_WORKER,
    "public-worker-cpu": PUBLIC_WORKER,
    "private-api": PRIVATE_BASE - KEYS | {"jwt_public.pem"},
    "private-worker": PRIVATE_BASE | {"authority_x25519.pem", "weights.key", "private-weights.enc"},
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


def test_redis_persists_and_minio_is_pinned_with_a_bucket_made_at_start(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("redis", "redis-private"):
        command = services[name]["command"]
        assert command[command.index("--appendonly") + 1] == "yes"
        assert any(v.endswith(":/data") for v in services[name]["volumes"])
    for name, bucket in (("minio", "uunet-public"), ("minio-private", "uunet-private")):
        image = services[name]["image"]
        assert image.startswith("minio/minio:RELEASE."), image
        init = services[f"{name}-init"]
        assert f"mc mb --ignore-existing uunet/{bucket}" in init["command"][0]
        assert init["depends_on"][name]["condition"] == "service_healthy"


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
    assert "8080:8080" in services["public-api"]["ports"]
    assert "127.0.0.1:8081:8081" in services["private-api"]["ports"]
    assert services["public-api"]["environment"]["UUNET_PUBLIC_STREAM"] == "uunet:deid:jobs"
    assert services["private-worker"]["environment"]["UUNET_PRIVATE_STREAM"] == "uunet:reid:jobs"
