"""Start and stop real ``redis-server`` and SeaweedFS (``weed mini``, S3 API) on 127.0.0.1.

Used by the test fixtures and by ``uunet up``. Every server binds loopback only, gets fresh free
ports and a fresh data directory, and is stopped (process group killed) by :meth:`stop`. On Linux
every child also dies with the process that started it, even one killed by SIGKILL
(``PR_SET_PDEATHSIG``, through ``shared.devstack.deathsig``), so nothing is left behind.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shared.domain.errors import ConfigError

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (and its +10000 twin, which weed also takes)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 < 65536 and _port_free(port + 10000):
            return port
    raise ConfigError("could not find a free loopback port")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def find_binary(name: str) -> str:
    """Path of an executable: next to the running interpreter first (the venv), then PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise ConfigError(f"{name} not found: run `make setup`")
    return found


@dataclass
class ManagedProcess:
    """A child process in its own process group, so stopping it stops its children too."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL after ``timeout`` seconds."""
        if not self.alive():
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass


def spawn(
    name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None
) -> ManagedProcess:
    """Start ``argv`` in a new session with stdout/stderr to ``log_dir/name.log``; on Linux the
    child is killed when this process dies (``shared.devstack.deathsig``)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    if sys.platform.startswith("linux"):
        argv = [sys.executable, "-m", "shared.devstack.deathsig", str(os.getpid()), *argv]
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
            env={**os.environ, **(env or {})},
        )
    return ManagedProcess(name=name, proc=proc, log_path=log_path)


def wait_until(check: object, what: str, proc: ManagedProcess, timeout: float = 30.0) -> None:
    """Poll ``check()`` until true; fail with the tail of the process log if it dies or times out."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            break
        if check():
            return
        time.sleep(0.1)
    tail = proc.log_path.read_text(errors="replace")[-2000:] if proc.log_path.exists() else ""
    proc.stop()
    raise ConfigError(f"{what} did not become ready (log {proc.log_path}): {tail[-300:]!r}")


@dataclass
class RedisServer:
    """A real redis-server on loopback with persistence off (tests) or on (``uunet up``)."""

    data_dir: Path
    port: int = 0
    persist: bool = False
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [find_binary("redis-server"), "--bind", "127.0.0.1", "--port", str(self.port)]
        argv += ["--dir", str(self.data_dir), "--protected-mode", "yes"]
        argv += ["--save", "", "--appendonly", "yes" if self.persist else "no"]
        if self.persist:
            # fsync before every reply: with the default (once a second) a job acknowledged with
            # 202 just before a crash could lose its queue entry while its record survived.
            argv += ["--appendfsync", "always"]
        self.process = spawn(f"redis-{self.port}", argv, self.data_dir)
        wait_until(lambda: _tcp_ping_redis(self.port), "redis-server", self.process)
        log.info("redis-server on 127.0.0.1:%d", self.port)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()


def _tcp_ping_redis(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class S3Server:
    """SeaweedFS ``weed mini`` speaking S3 on loopback, with credentials (it accepts anything without)."""

    data_dir: Path
    access_key: str = field(default_factory=lambda: "uunet" + secrets.token_hex(4))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    s3_port: int = 0
    process: ManagedProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 60.0) -> S3Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = [free_port() for _ in range(5)]
        self.s3_port = self.s3_port or ports[3]
        config = self.data_dir / "s3.json"
        config.write_text(json.dumps(self._identities()))
        config.chmod(0o600)
        store = self.data_dir / "data"
        store.mkdir(exist_ok=True)
        argv = [find_binary("weed"), f"-logdir={self.data_dir}", "mini", f"-dir={store}"]
        argv += ["-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={ports[0]}"]
        argv += [f"-volume.port={ports[1]}", f"-filer.port={ports[2]}", f"-s3.port={self.s3_port}"]
        argv += [f"-admin.port={ports[4]}", "-master.telemetry=false", "-webdav=false"]
        argv += ["-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        argv += ["-master.volumeSizeLimitMB=64", f"-s3.config={config}"]
        self.process = spawn(f"weed-{self.s3_port}", argv, self.data_dir)
        wait_until(self._s3_ready, "SeaweedFS S3", self.process, timeout=timeout)
        log.info("S3 (SeaweedFS) on %s", self.endpoint)
        return self

    @classmethod
    def keeping(cls, data_dir: Path) -> S3Server:
        """A server whose credentials (and data) persist in ``data_dir`` across restarts."""
        saved = data_dir / "credentials.json"
        if saved.exists():
            creds = json.loads(saved.read_text())
            return cls(data_dir, creds["access_key"], creds["secret_key"])
        server = cls(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"access_key": server.access_key, "secret_key": server.secret_key}, fh)
        return server

    def _identities(self) -> dict[str, object]:
        creds = [{"accessKey": self.access_key, "secretKey": self.secret_key}]
        actions = ["Admin", "Read", "Write", "List", "Tagging"]
        return {"identities": [{"name": "uunet", "credentials": creds, "actions": actions}]}

    def _s3_ready(self) -> bool:
        # An unsigned request gets 403 AccessDenied once the gateway is up with credentials.
        try:
            urllib.request.urlopen(f"http://{self.endpoint}/", timeout=1)
            return True
        except urllib.error.HTTPError as err:
            return err.code in (400, 403)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process:
            self.process.stop()
