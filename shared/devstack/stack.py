"""The whole product on one machine without Docker: what ``uunet up`` starts and stops.

Real redis-server and S3 (SeaweedFS) on loopback, the public and private APIs (REST + gRPC) and one
worker each, all as child processes in their own process groups, supervised: one that exits is
restarted with backoff, and the stack stops only when asked or when one keeps crashing. Every child
dies with the parent, even a parent killed by SIGKILL. Secrets (a key set, a vendor API key, the
token issuer, the weights key) are made once in the state directory and reused; server data is
fresh on every start, unless ``persistent`` (``uunet up --data-dir``) keeps Redis (AOF) and S3 data.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shared.crypto.files import write_private
from shared.devstack.servers import ManagedProcess, RedisServer, S3Server, free_port, spawn
from shared.devstack.supervisor import RestartPolicy, Supervisor
from shared.domain.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevSecrets:
    """Paths of the dev profile's secrets (made by the CLI) and the plain vendor API key."""

    keys_dir: Path
    api_key: str
    api_keys_file: Path
    issuer: str
    audience: str
    issuer_private: Path
    issuer_public: Path
    weights_key_file: Path
    encrypted_weights: Path | None  # None: the model has no private module (sealed restoration)
    public_checkpoint: Path  # the checkpoint without the private module
    audit_key_file: Path


@dataclass
class DevStack:
    """Start with :meth:`start`, stop with :meth:`stop`; ``dev.json`` is written once all is ready."""

    state_dir: Path
    device: str = "cpu"
    ready_timeout_s: float = 120.0
    persistent: bool = False  # keep Redis and S3 data in state_dir across starts
    redis: RedisServer | None = None
    s3: S3Server | None = None
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    report: Callable[[str], None] = log.warning  # one line per exit and restart
    supervisor: Supervisor | None = None
    info: dict[str, str] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def start(self, secrets: DevSecrets) -> dict[str, str]:
        """Start everything, wait until both APIs are ready, write ``dev.json``; returns its content."""
        self.supervisor = sup = Supervisor(self.policy, self.report)
        self._start_servers(sup)
        ports = {name: free_port() for name in ("ph", "pg", "pm", "pa", "qh", "qg", "qm", "qa")}
        public_env = self._public_env(secrets, ports)
        private_env = self._private_env(secrets, ports)
        # One host: each API gets a metrics port of its own, apart from its worker's.
        api_metrics = {
            "public_deid": ("UUNET_PUBLIC_", "pa"),
            "private_reid": ("UUNET_PRIVATE_", "qa"),
        }
        for service, env in (("public_deid", public_env), ("private_reid", private_env)):
            for role in ("api", "worker"):
                argv = [sys.executable, "-m", f"services.{service}", role]
                prefix, port = api_metrics[service]
                role_env = env | (
                    {f"{prefix}METRICS_PORT": str(ports[port])} if role == "api" else {}
                )
                name = f"{service}-{role}"
                sup.add(name, functools.partial(spawn, name, argv, self.log_dir, role_env))
        self._wait_ready(f"http://127.0.0.1:{ports['ph']}/readyz")
        self._wait_ready(f"http://127.0.0.1:{ports['qh']}/readyz")
        assert self.redis and self.s3
        self.info = {
            "public_url": f"http://127.0.0.1:{ports['ph']}",
            "private_url": f"http://127.0.0.1:{ports['qh']}",
            "public_grpc": f"127.0.0.1:{ports['pg']}",
            "private_grpc": f"127.0.0.1:{ports['qg']}",
            "public_metrics": f"http://127.0.0.1:{ports['pa']}/metrics",
            "private_metrics": f"http://127.0.0.1:{ports['qa']}/metrics",
            "api_key": secrets.api_key,
            "keys_dir": str(secrets.keys_dir),
            "redis_url": self.redis.url,
            "s3_endpoint": self.s3.endpoint,
            "s3_access_key": self.s3.access_key,
            "s3_secret_key": self.s3.secret_key,
            "logs": str(self.log_dir),
            "pid": str(os.getpid()),  # the supervisor; its children are the stack
        }
        # The private side's settings as a dotenv file: `uunet audit verify --env-file` reads it.
        private_env_file = self.state_dir / "private.env"
        lines = "".join(f"{k}={v}\n" for k, v in private_env.items() if k.startswith("UUNET_"))
        write_private(private_env_file, lines)
        self.info["private_env_file"] = str(private_env_file)
        write_private(self.state_dir / "dev.json", json.dumps(self.info, indent=2) + "\n")
        return self.info

    def _start_servers(self, sup: Supervisor) -> None:
        """Redis (AOF on) and S3; a restart reuses their ports and data directories."""
        if not self.persistent:
            for fresh in ("redis", "s3"):
                shutil.rmtree(self.state_dir / fresh, ignore_errors=True)
        redis = self.redis = RedisServer(self.state_dir / "redis", persist=True)
        s3_dir = self.state_dir / "s3"
        s3 = self.s3 = S3Server.keeping(s3_dir) if self.persistent else S3Server(s3_dir)
        sup.add("redis-server", lambda: _process_of(redis.start()))
        sup.add("s3-server", lambda: _process_of(s3.start()))

    def _common_env(self, secrets: DevSecrets) -> dict[str, str]:
        assert self.redis and self.s3
        env = {
            # Every secret is passed explicitly; the dev profile only marks a throwaway stack.
            "DEV": "false" if self.persistent else "true",
            "REDIS_URL": self.redis.url,
            "S3_ENDPOINT": self.s3.endpoint,
            "S3_ACCESS_KEY": self.s3.access_key,
            "S3_SECRET_KEY": self.s3.secret_key,
            "S3_BUCKET": "uunet",
            "KEYS_DIR": str(secrets.keys_dir),
            "DEVICE": self.device,
            "HTTP_HOST": "127.0.0.1",
            "WORK_DIR": str(self.state_dir / "work"),
        }
        return env

    def _public_env(self, secrets: DevSecrets, ports: dict[str, int]) -> dict[str, str]:
        env = self._common_env(secrets) | {
            "HTTP_PORT": str(ports["ph"]),
            "GRPC_PORT": str(ports["pg"]),
            "METRICS_PORT": str(ports["pm"]),
            "API_KEYS_FILE": str(secrets.api_keys_file),
            "CHECKPOINT": str(secrets.public_checkpoint),
        }
        return {f"UUNET_PUBLIC_{k}": v for k, v in env.items()} | _quiet_env()

    def _private_env(self, secrets: DevSecrets, ports: dict[str, int]) -> dict[str, str]:
        env = self._common_env(secrets) | {
            "HTTP_PORT": str(ports["qh"]),
            "GRPC_PORT": str(ports["qg"]),
            "METRICS_PORT": str(ports["qm"]),
            "S3_BUCKET": "uunet-private",
            "JWT_PUBLIC_KEY_FILE": str(secrets.issuer_public),
            "JWT_ISSUER": secrets.issuer,
            "JWT_AUDIENCE": secrets.audience,
            "WEIGHTS_KEY_FILE": str(secrets.weights_key_file),
            "AUDIT_KEY_FILE": str(secrets.audit_key_file),
            "AUDIT_ANCHOR_BUCKET": "uunet-audit-anchors",
            "AUDIT_ANCHOR_INTERVAL_S": "2",
            "RATE_LIMIT_PER_MINUTE": "600",  # one address polls for everyone here
        }
        if secrets.encrypted_weights is not None:
            env["ENCRYPTED_WEIGHTS"] = str(secrets.encrypted_weights)
        return {f"UUNET_PRIVATE_{k}": v for k, v in env.items()} | _quiet_env()

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        assert self.supervisor is not None
        while time.monotonic() < deadline:
            dead = self.supervisor.first_dead()
            if dead:
                raise ConfigError(f"{dead} exited during start; see {self.log_dir}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise ConfigError(f"{url} not ready after {self.ready_timeout_s:.0f} s; see {self.log_dir}")

    def supervise(self) -> None:
        """Restart what exited (call it often); CrashLoopError when one keeps crashing."""
        if self.supervisor is not None:
            self.supervisor.check()

    def stop(self) -> None:
        """Stop the services first (they drain), then the servers; remove ``dev.json``."""
        if self.supervisor is not None:
            self.supervisor.stop()
        (self.state_dir / "dev.json").unlink(missing_ok=True)


def _process_of(server: RedisServer | S3Server) -> ManagedProcess:
    assert server.process is not None
    return server.process


def _quiet_env() -> dict[str, str]:
    return {"PYTHONUNBUFFERED": "1", "PATH": os.environ.get("PATH", "")}
