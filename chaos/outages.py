"""Chaos: dependency outages under real worker processes (the ``uunet up`` stack, run in-process so
the script, not the supervisor, decides when a server comes back).

1. Redis restarted (AOF on) while jobs are queued and one is running: none is lost.
2. S3 stopped for ``--outage-s`` seconds: uploads during the outage get 503 (timed), queued jobs
   wait and finish afterwards, none is lost.
3. Disk full in the workers' temp dir (a small tmpfs, needs root; skipped otherwise): a job that
   cannot get its clip onto the disk fails with a reason, the worker survives and serves the next.

    .venv/bin/python chaos/outages.py [--jobs 6] [--outage-s 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.stack import PublicClient, load_average, make_clip
from shared.devstack.stack import DevStack
from uunet_cli.devsecrets import prepare_secrets


def submit_all(client: PublicClient, clip: Path, n: int) -> list[str]:
    return [client.submit(clip).json()["job_id"] for _ in range(n)]


def none_lost(what: str, client: PublicClient, jobs: list[str], since: float) -> bool:
    """Wait for every job; print how many ended done and when; True if all did."""
    lost = [job for job in jobs if client.wait(job, 900)["state"] != "done"]
    print(f"{what}: {len(jobs) - len(lost)}/{len(jobs)} jobs done, lost or failed: {len(lost)}; "
          f"all ended {time.monotonic() - since:.1f} s after the fault", flush=True)  # fmt: skip
    return not lost


def redis_restart(stack: DevStack, client: PublicClient, clip: Path, n: int) -> bool:
    jobs = submit_all(client, clip, n)
    deadline = time.monotonic() + 120
    while client.status(jobs[0])["state"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.supervisor is not None
    started = time.monotonic()
    stack.supervisor.hold("redis-server")  # SIGTERM: redis writes its AOF and exits
    stack.supervisor.release("redis-server")  # same port, same data
    print(f"redis down and back in {time.monotonic() - started:.2f} s "
          f"with 1 job running and {n - 1} queued", flush=True)  # fmt: skip
    return none_lost("redis restart", client, jobs, started)


def s3_outage(stack: DevStack, client: PublicClient, clip: Path, n: int, outage_s: float) -> bool:
    jobs = submit_all(client, clip, n)
    assert stack.supervisor is not None
    stack.supervisor.hold("s3-server")
    down_at = time.monotonic()
    answers: list[tuple[int, float]] = []
    while time.monotonic() - down_at < outage_s:
        t0 = time.monotonic()
        try:
            code = client.submit(clip).status_code
        except httpx.HTTPError:
            code = -1
        answers.append((code, time.monotonic() - t0))
        time.sleep(0.5)
    stack.supervisor.release("s3-server")
    back_at = time.monotonic()
    codes = sorted({c for c, _ in answers})
    times = [t for _, t in answers]
    print(f"S3 down {back_at - down_at:.1f} s: {len(answers)} uploads answered {codes}, "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s", flush=True)  # fmt: skip
    return none_lost("S3 outage (from its end)", client, jobs, back_at) and codes == [503]


def presigned_job(client: PublicClient, clip: Path) -> str:
    """Upload through the presigned flow (straight to S3), so the API's disk is not involved."""
    up = client.http.post("/v1/uploads", json={"filename": "clip.mp4"}).json()
    httpx.put(up["url"], content=clip.read_bytes()).raise_for_status()
    return str(client.http.post(f"/v1/uploads/{up['upload_id']}/complete").json()["job_id"])


def disk_full(work: Path, client: PublicClient, clip: Path) -> bool:
    filler = work / "filler"
    try:
        with filler.open("wb") as fh:  # fill the tmpfs to the last byte
            while True:
                fh.write(bytes(1 << 16))
    except OSError:
        pass
    job = presigned_job(client, clip)
    status = client.wait(job, 300)
    print(f"disk full: job {status['state']}: {status.get('error')}", flush=True)
    filler.unlink()
    after = client.wait(presigned_job(client, clip), 300)
    print(f"disk freed: next job {after['state']} (the worker kept serving)", flush=True)
    return status["state"] == "failed" and bool(status.get("error")) and after["state"] == "done"


def mount_small_tmpfs(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(path)], check=False
    )
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--outage-s", type=float, default=10.0)
    args = parser.parse_args()
    os.nice(10)
    results: dict[str, bool | None] = {}
    with tempfile.TemporaryDirectory(prefix="uunet-outages-") as tmp:
        state = Path(tmp) / "stack"
        mounted = mount_small_tmpfs(state / "work")
        stack = DevStack(state)
        try:
            info = stack.start(prepare_secrets(state, None))
            client = PublicClient(info)
            clip = make_clip(Path(tmp) / "clip.mp4", frames=24, size=(320, 240), faces=2)
            assert client.wait(client.submit(clip).json()["job_id"])["state"] == "done"  # warm
            results["redis restart"] = redis_restart(stack, client, clip, args.jobs)
            results["s3 outage"] = s3_outage(stack, client, clip, args.jobs, args.outage_s)
            results["disk full"] = disk_full(state / "work", client, clip) if mounted else None
            exits = stack.supervisor.first_dead() if stack.supervisor else None
        finally:
            stack.stop()
            if mounted:
                subprocess.run(["umount", str(state / "work")], check=False)
    print(f"\nfaults survived: {results}; a service process exited: {exits or 'none'}")
    print(f"load average at the end: {load_average()}")
    return 0 if all(v is not False for v in results.values()) and not exits else 1


if __name__ == "__main__":
    sys.exit(main())
