"""Run the real service processes under the env and secret files docker-compose.yml gives them.

Only what cannot exist outside Docker is mapped: compose host names (redis, minio, ...) to the
test's real servers (the redis_url secret file names the test's Redis), /run/secrets to a
directory holding exactly the secrets compose mounts into that service, ports to free ones, and
the model weights to a tiny real checkpoint (the shipped file may be absent on a fresh checkout).
Everything else is the compose env verbatim.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.adapters.s3_store import S3Config
from tests.integration.deploy.tools import REPO, compose_env

API_KEY = "uuk_deploy-test-key"
MODULES = {"public": "services.public_deid", "private": "services.private_reid"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Pool:
    """Every secret file a deployment holds, by the name compose mounts it under."""

    files: Path
    issuer_key: Ed25519PrivateKey
    checkpoint: Path  # the public module only, as the public worker image ships it


def make_pool(root: Path, s3: S3Config, with_weights: bool) -> Pool:
    """Real key set, credentials, API keys file, token key; a tiny checkpoint and its private half
    encrypted (only when `with_weights`, as building them loads torch)."""
    from services.public_deid.auth import hash_key
    from shared.crypto.keys import init_keyset

    files = root / "pool"
    init_keyset(files)
    for side in ("public", "private"):
        (files / f"{side}_s3_access_key").write_text(s3.access_key)
        (files / f"{side}_s3_secret_key").write_text(s3.secret_key)
    (files / "api_keys.json").write_text(f'{{"deploy-test": "{hash_key(API_KEY)}"}}')
    issuer = Ed25519PrivateKey.generate()
    pem = issuer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (files / "jwt_public.pem").write_bytes(pem)
    (files / "audit_key").write_text(os.urandom(32).hex())
    checkpoint = root / "tiny.pt"
    if with_weights:
        _tiny_weights(files, checkpoint)
    return Pool(files, issuer, checkpoint)


def _tiny_weights(files: Path, checkpoint: Path) -> None:
    from shared.crypto.weights import encrypt_weights, generate_key_file, load_key_file
    from shared.model.checkpoint import (
        load_checkpoint,
        part_to_bytes,
        save_checkpoint,
        save_public_only,
    )
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine

    config = ModelConfig.product(width=0.125)
    both = save_checkpoint(
        checkpoint.with_name("both.pt"), UUNetEngine.from_config(config, seed=1).generator, config
    )
    save_public_only(load_checkpoint(both), checkpoint)  # what the public worker image ships
    generate_key_file(files / "weights.key")
    plain = part_to_bytes(load_checkpoint(both), "private")
    key = load_key_file(files / "weights.key")
    (files / "private-weights.enc").write_bytes(encrypt_weights(plain, key, {"part": "private"}))


def mounted_secrets(service: str) -> set[str]:
    """Names under /run/secrets that compose mounts into a service."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    specs = compose["services"][service].get("secrets") or []
    return {s if isinstance(s, str) else s.get("target", s["source"]) for s in specs}


@dataclass(frozen=True)
class Servers:
    """The test's real Redis and S3, standing in for each side's own."""

    redis_url: str
    s3: S3Config


def make_bucket(s3: S3Config, bucket: str) -> None:
    """What the deployment's init job (k8s/uunet/files/minio-init.sh) does before the services
    start: the bucket and its raw/ expiry rule (the services' own users may not)."""
    import asyncio

    from shared.adapters.s3_store import S3ObjectStore

    async def make() -> None:
        store = S3ObjectStore(dataclasses.replace(s3, bucket=bucket))
        await store.ensure_bucket()
        await store.set_expiry_rules({"raw/": 1})

    asyncio.run(make())


def compose_process_env(
    service: str, pool: Pool, root: Path, servers: Servers, bucket: str
) -> tuple[dict[str, str], dict[str, int]]:
    """(env, {"http"|"grpc"|"metrics": port}) of one compose service, mapped as described above;
    its bucket made as the init service would."""
    make_bucket(servers.s3, bucket)
    part = "public" if service.startswith("public") else "private"
    prefix = f"UUNET_{part.upper()}_"
    secrets = root / f"run-secrets-{service}"
    secrets.mkdir(parents=True, exist_ok=True)
    for name in mounted_secrets(service):
        if name == "redis_url":  # each process's own Redis user in compose; the test server here
            (secrets / name).write_text(servers.redis_url)
        else:
            (secrets / name).write_bytes((pool.files / name).read_bytes())
    env = compose_env(service)
    for key, value in env.items():
        if value.startswith("/run/secrets"):
            env[key] = str(secrets) + value.removeprefix("/run/secrets")
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    env |= {
        f"{prefix}S3_ENDPOINT": servers.s3.endpoint,
        f"{prefix}S3_BUCKET": bucket,
        f"{prefix}HTTP_HOST": "127.0.0.1",
        f"{prefix}HTTP_PORT": str(ports["http"]),
        f"{prefix}GRPC_PORT": str(ports["grpc"]),
        f"{prefix}METRICS_PORT": str(ports["metrics"]),
    }
    if service.startswith("public-worker"):
        env[f"{prefix}DEVICE"] = "cpu"  # no GPU here; the CUDA path is the same code
        env[f"{prefix}CHECKPOINT"] = str(pool.checkpoint)
    return env, ports


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    """Status of a GET (0 when nothing answers)."""
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def start(module: str, role: str, env: dict[str, str], probe_url: str) -> subprocess.Popen[str]:
    """Start `python -m module role` with `env` (and nothing else UUNET_*); return once
    `probe_url` answers 200."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UUNET_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, role],
        cwd=REPO,
        env=clean | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while http_status(probe_url) != 200:
        if proc.poll() is not None:
            raise AssertionError(f"{module} {role} exited {proc.returncode}: {_tail(proc)}")
        if time.monotonic() > deadline:
            stop(proc)
            raise AssertionError(f"{module} {role} never answered {probe_url}")
        time.sleep(0.3)
    return proc


def stop(proc: subprocess.Popen[str], timeout_s: float = 30) -> int:
    """SIGTERM, then SIGKILL after `timeout_s`; the exit status."""
    proc.terminate()
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextmanager
def running(module: str, role: str, env: dict[str, str], probe_url: str) -> Iterator[None]:
    """`start` the process, stop it with SIGTERM at the end."""
    proc = start(module, role, env, probe_url)
    try:
        yield
    finally:
        stop(proc)


def _tail(proc: subprocess.Popen[str]) -> str:
    return (proc.stderr.read() if proc.stderr else "")[-2000:]
