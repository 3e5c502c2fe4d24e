"""What the chaos scripts share: the real ``uunet up`` as a child, its processes, a REST client.

The stack runs as the command a user runs (``uunet up``), so its supervisor is part of what is
tested. Processes are found under the ``uunet up`` pid through ``/proc`` (Linux), by role.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
UUNET = str(Path(sys.executable).parent / "uunet")
ROLES = {
    "redis-server": "redis-server",
    "weed": "s3-server",
    "services.public_deid api": "public-api",
    "services.public_deid worker": "public-worker",
    "services.private_reid api": "private-api",
    "services.private_reid worker": "private-worker",
}


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ('' if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children(parent: int) -> dict[str, int]:
    """Role -> pid of the live direct children of ``parent``."""
    out: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) != parent or fields[0] == "Z":
            continue
        line = cmdline(int(entry.name))
        role = next((r for key, r in ROLES.items() if key in line), None)
        if role:
            out[role] = int(entry.name)
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of ``pid`` in MiB, 0 if gone."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    """Current resident memory (VmRSS) of ``pid`` in MiB, 0 if gone."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, field: str) -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith(field)), 0.0)


@dataclass
class Up:
    """``uunet up`` started by us (``args`` picks --dev or --data-dir); ``info`` is dev.json."""

    state_dir: Path
    args: list[str] = field(default_factory=lambda: ["--dev"])
    proc: subprocess.Popen[bytes] | None = None
    info: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 300.0) -> Up:
        dev_json = self.state_dir / "dev.json"
        dev_json.unlink(missing_ok=True)
        dir_flag = "--data-dir" if "--data-dir" in self.args else "--state-dir"
        argv = ["nice", "-n", "10", UUNET, "up", *self.args]
        if dir_flag == "--state-dir":
            argv += ["--state-dir", str(self.state_dir)]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / "up.log").open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not dev_json.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"uunet up did not start:\n{self.log()[-2000:]}")
            time.sleep(0.3)
        self.info = json.loads(dev_json.read_text())
        return self

    def log(self) -> str:
        return (self.state_dir / "up.log").read_text(errors="replace")

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def children(self) -> dict[str, int]:
        return children(self.pid())

    def wait_for(self, role: str, not_pid: int | None = None, timeout: float = 120) -> int:
        """The pid of ``role`` once it runs (a new one, if ``not_pid`` is given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.children().get(role)
            if pid and pid != not_pid:
                return pid
            time.sleep(0.1)
        raise SystemExit(f"{role} did not come back:\n{self.log()[-2000:]}")

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)

    def kill(self) -> list[int]:
        """SIGKILL ``uunet up`` itself; returns the pids of its children at that moment."""
        pids = list(self.children().values())
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return pids


def make_clip(
    path: Path, frames: int = 48, size: tuple[int, int] = (320, 240), faces: int = 2
) -> Path:
    """A small clip with real faces moving (shared.video.synthetic)."""
    sys.path.insert(0, str(ROOT))
    from shared.video.synthetic import SceneSpec, write_clip

    write_clip(path, SceneSpec(size[0], size[1], frames, Fraction(25), faces, (50, 70), seed=3))
    return path


def frame_count(path: Path) -> int:
    """Frames PyAV decodes from ``path`` (raises if it does not decode)."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@dataclass
class PublicClient:
    """The public REST API as a vendor uses it."""

    info: dict[str, str]
    timeout: float = 120.0
    poll_s: float = 0.25  # how often wait() asks for the job's state

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.info["public_url"],
            headers={"X-API-Key": self.info["api_key"]},
            timeout=self.timeout,
            follow_redirects=True,
        )

    def submit(self, clip: Path) -> httpx.Response:
        with clip.open("rb") as fh:
            return self.http.post("/v1/clips", files={"file": (clip.name, fh)})

    def status(self, job_id: str) -> dict[str, object]:
        resp = self.http.get(f"/v1/jobs/{job_id}")
        resp.raise_for_status()
        data: dict[str, object] = resp.json()
        return data

    def wait(
        self,
        job_id: str,
        limit_s: float = 600,
        on_poll: Callable[[dict[str, object]], None] | None = None,
    ) -> dict[str, object]:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                status = self.status(job_id)
            except httpx.HTTPError:  # the API being restarted
                time.sleep(0.5)
                continue
            if on_poll:
                on_poll(status)
            if status["state"] in ("done", "failed"):
                return status
            time.sleep(self.poll_s)
        raise SystemExit(f"job {job_id} not finished after {limit_s} s")

    def result(self, job_id: str, dest: Path) -> httpx.Response:
        resp = self.http.get(f"/v1/jobs/{job_id}/result")
        if resp.status_code == 200:
            dest.write_bytes(resp.content)
        return resp


def load_average() -> str:
    """The 1/5/15-minute load averages, as uptime shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
