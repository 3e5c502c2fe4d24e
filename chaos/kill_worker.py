"""Chaos: SIGKILL the public worker in the middle of a job, N times in a row on N jobs.

Starts the real ``uunet up --dev`` (niced), then for each job: upload a clip over REST, wait until
the worker reports progress, SIGKILL the worker, and follow the job as a client does. Checks that
every job ends ``done`` exactly once as the client sees it (never ``done`` then something else),
that no partial result is ever served (``/result`` is 409 until done), that the result decodes with
every frame, and that no job is left ``running``; prints per job the progress at the kill, the
time until another worker took it over (state back to ``running`` with one more attempt) and until
it was done.

    .venv/bin/python chaos/kill_worker.py [--jobs 10] [--frames 48]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.stack import PublicClient, Up, frame_count, load_average, make_clip


def attempts(up: Up, job: str) -> int:
    """The job's attempt count, read from Redis (the REST API does not show it)."""
    import redis

    with redis.Redis.from_url(up.info["redis_url"]) as r:
        return int(r.hget(f"uunet:job:{job}", "attempts") or 0)


def run_one(up: Up, client: PublicClient, clip: Path, frames: int, out: Path) -> dict[str, object]:
    resp = client.submit(clip)
    resp.raise_for_status()
    job = str(resp.json()["job_id"])
    while (status := client.status(job))["state"] != "running" or float(
        str(status["progress"])
    ) < 0.05:
        early = client.http.get(f"/v1/jobs/{job}/result")
        assert early.status_code == 409, f"partial result served: {early.status_code}"
        time.sleep(0.05)
    worker = up.children()["public-worker"]
    killed_at, progress = time.monotonic(), float(str(status["progress"]))
    os.kill(worker, signal.SIGKILL)
    seen: list[str] = []
    taken_over: list[float] = []

    def watch(s: dict[str, object]) -> None:
        if up.proc is not None and up.proc.poll() is not None:
            raise SystemExit(f"uunet up stopped:\n{up.log()[-1500:]}")
        if not seen or seen[-1] != s["state"]:
            seen.append(str(s["state"]))
        if not taken_over and attempts(up, job) >= 2:
            taken_over.append(time.monotonic() - killed_at)
        if s["state"] != "done":
            assert client.http.get(f"/v1/jobs/{job}/result").status_code == 409

    final = client.wait(job, 600, watch)
    done_after = time.monotonic() - killed_at
    for _ in range(3):  # done stays done
        assert client.status(job)["state"] == final["state"]
    result = client.result(job, out)
    decoded = frame_count(out) if result.status_code == 200 else -1
    return {
        "job": job[:8],
        "progress_at_kill": progress,
        "states": ">".join(seen),
        "final": final["state"],
        "error": final.get("error"),
        "taken_over_s": taken_over[0] if taken_over else float("nan"),
        "done_after_s": done_after,
        "frames": decoded,
        "ok": final["state"] == "done" and decoded == frames and seen.count("done") == 1,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uunet-chaos-") as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", frames=args.frames)
        up = Up(work / "stack").start()
        rows = []
        try:
            client = PublicClient(up.info)
            up.wait_for("public-worker")
            for i in range(args.jobs):
                row = run_one(up, client, clip, args.frames, work / f"out{i}.mp4")
                rows.append(row)
                print(
                    f"job {i + 1:2d} {row['job']}: killed at {row['progress_at_kill']:.0%}, "
                    f"states {row['states']}, taken over after {row['taken_over_s']:.1f} s, "
                    f"{row['final']} {row['done_after_s']:.1f} s after the kill, "
                    f"{row['frames']} frames decoded, ok={row['ok']}",
                    flush=True,
                )
            still_up = up.proc is not None and up.proc.poll() is None
            restarts = up.log().count("public_deid-worker exited (killed by SIGKILL)")
        finally:
            code = up.stop()
    times = [float(str(r["done_after_s"])) for r in rows]
    takeovers = [float(str(r["taken_over_s"])) for r in rows]
    ok = sum(bool(r["ok"]) for r in rows)
    print(f"\nkills survived: {ok}/{len(rows)} jobs done exactly once with a decodable result")
    print(f"uunet up still running after the kills: {still_up}; restarts logged: {restarts}")
    print(
        f"kill -> taken over: median {statistics.median(takeovers):.1f} s, max {max(takeovers):.1f} s"
    )
    print(f"kill -> done: median {statistics.median(times):.1f} s, max {max(times):.1f} s")
    print(f"uunet up exit status after SIGTERM: {code}; load average at the end: {load_average()}")
    return 0 if ok == len(rows) and still_up else 1


if __name__ == "__main__":
    sys.exit(main())
