"""Load: rounds of N concurrent clip submissions against the running stack (``uunet up --dev``).

Each client uploads a small clip over REST, polls its job until it ends and downloads the result;
the end-to-end latency counts all of it. Per round: how many completed, p50/p95 latency, jobs per
minute; after each round the resident memory of both APIs (it must stay flat), and at the end the
peak memory (VmHWM) of every process of the stack. An upload refused for now (429, or 503 when the
API's upload slots are all taken) is retried after its Retry-After, as a client should. The vendor rate limit is raised to 1000/min for
the run (``UUNET_PUBLIC_RATE_LIMIT_PER_MINUTE``): this measures capacity, not the limiter.

    nice -n 10 .venv/bin/python bench/bench_load.py [--clients 50] [--rounds 3] [--frames 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.stack import PublicClient, Up, load_average, make_clip, peak_rss_mb, rss_mb

BUSY = [0]  # uploads answered 429/503 (rate limit, upload slots full) and retried


def one_job(info: dict[str, str], clip: Path, out: Path) -> tuple[float, str]:
    """Upload, wait, download; returns (seconds, final state)."""
    client = PublicClient(info, timeout=600, poll_s=1.0)
    started = time.monotonic()
    while (resp := client.submit(clip)).status_code in (429, 503):
        BUSY[0] += 1  # a polite client waits as told (Retry-After) and tries again
        time.sleep(float(resp.headers.get("Retry-After", "1")))
    resp.raise_for_status()
    job = resp.json()["job_id"]
    state = str(client.wait(job, 1800)["state"])
    if state == "done":
        client.result(job, out)
    return time.monotonic() - started, state


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_round(up: Up, clip: Path, clients: int, work: Path) -> dict[str, float]:
    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        futures = [
            pool.submit(one_job, up.info, clip, work / f"out{i}.mp4") for i in range(clients)
        ]
        results = [f.result() for f in futures]
    wall = time.monotonic() - started
    latencies = [s for s, state in results if state == "done"]
    return {
        "done": len(latencies),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": percentile(latencies, 0.95) if latencies else float("nan"),
        "jobs_per_min": 60 * len(latencies) / wall,
        "wall": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--upload-slots", type=int, default=0,
                        help="uploads one API spools at once (0: the service default, 2)")  # fmt: skip
    args = parser.parse_args()
    os.environ["UUNET_PUBLIC_RATE_LIMIT_PER_MINUTE"] = "1000"  # inherited by the stack
    if args.upload_slots:
        os.environ["UUNET_PUBLIC_MAX_CONCURRENT_UPLOADS"] = str(args.upload_slots)
    with tempfile.TemporaryDirectory(prefix="uunet-load-") as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", frames=args.frames, size=(320, 240), faces=1)
        up = Up(work / "stack").start()
        try:
            up.wait_for("public-worker")
            one_job(up.info, clip, work / "warm.mp4")  # the worker's first job pays lazy imports
            procs = up.children()
            print(f"clip 320x240 x {args.frames} frames, {args.clients} concurrent clients, "
                  f"one worker per side; load average {load_average()}", flush=True)  # fmt: skip
            api_rss: list[tuple[float, float]] = []
            ok = True
            for r in range(args.rounds):
                row = run_round(up, clip, args.clients, work)
                api_rss.append((rss_mb(procs["public-api"]), rss_mb(procs["private-api"])))
                ok = ok and row["done"] == args.clients
                print(f"round {r + 1}: {row['done']:.0f}/{args.clients} done in {row['wall']:.0f} s, "
                      f"p50 {row['p50']:.1f} s, p95 {row['p95']:.1f} s, "
                      f"{row['jobs_per_min']:.1f} jobs/min; API RSS public {api_rss[-1][0]:.0f} MiB, "
                      f"private {api_rss[-1][1]:.0f} MiB; load {load_average()}", flush=True)  # fmt: skip
            peaks = {role: peak_rss_mb(pid) for role, pid in sorted(up.children().items())}
        finally:
            up.stop()
    print("peak memory (VmHWM): " + ", ".join(f"{k} {v:.0f} MiB" for k, v in peaks.items()))
    print(f"uploads told to retry later (429/503 with Retry-After): {BUSY[0]}")
    growth = api_rss[-1][0] - api_rss[0][0]
    print(f"public API RSS after each round: {[round(a) for a, _ in api_rss]} MiB "
          f"(growth rounds 1->{args.rounds}: {growth:+.0f} MiB)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except httpx.HTTPError as err:
        sys.exit(f"bench_load: {err}")
