"""REST end-to-end time against the in-process CLI on the same clip (goal: REST <= 1.25x CLI).

Starts the real dev stack (``uunet up`` machinery: redis-server, S3, both services and workers),
then for each run times
- CLI: ``uunet deid CLIP -o OUT`` as a fresh process (what a user runs: start-up and model load
  included), and
- REST: ``POST /v1/clips`` -> poll ``GET /v1/jobs/{id}`` every 100 ms -> ``GET .../result``
  (upload, queue, worker, S3 and download included; the worker already holds the model),
and prints both, their ratio, and the median over ``--runs``.

    .venv/bin/python bench/bench_service.py [--height 720] [--frames 150] [--faces 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_deid import make_clip  # noqa: E402
from shared.devstack.stack import DevStack  # noqa: E402
from uunet_cli.devsecrets import prepare_secrets  # noqa: E402

UUNET = str(Path(sys.executable).parent / "uunet")


def time_cli(clip: Path, out: Path, keys: Path, checkpoint: Path | None) -> float:
    t0 = time.perf_counter()
    cmd = [UUNET, "deid", str(clip), "-o", str(out), "--keys", str(keys), "--quiet"]
    cmd += ["--checkpoint", str(checkpoint)] if checkpoint else []
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def time_rest(info: dict[str, str], clip: Path, out: Path) -> float:
    headers = {"X-API-Key": info["api_key"]}
    t0 = time.perf_counter()
    with httpx.Client(base_url=info["public_url"], timeout=600, follow_redirects=True) as client:
        with clip.open("rb") as fh:
            resp = client.post("/v1/clips", headers=headers, files={"file": fh})
        resp.raise_for_status()
        job = resp.json()["job_id"]
        while (state := client.get(f"/v1/jobs/{job}", headers=headers).json())["state"] not in (
            "done",
            "failed",
        ):
            time.sleep(0.1)
        if state["state"] != "done":
            raise SystemExit(f"job failed: {state['error']}")
        out.write_bytes(client.get(f"/v1/jobs/{job}/result", headers=headers).content)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=720, choices=(360, 720, 1080))
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: shipped weights")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = work / "clip.mp4"
        make_clip(clip, args.height, args.frames, args.faces)
        stack = DevStack(work / "stack")
        try:
            info = stack.start(prepare_secrets(work / "stack", args.checkpoint))
            keys = Path(info["keys_dir"])
            time_rest(info, clip, work / "warm.mp4")  # first job pays lazy imports in the worker
            cli, rest = [], []
            for i in range(args.runs):
                cli.append(time_cli(clip, work / f"cli{i}.mp4", keys, args.checkpoint))
                rest.append(time_rest(info, clip, work / f"rest{i}.mp4"))
                print(f"run {i + 1}: cli {cli[-1]:.2f} s  rest {rest[-1]:.2f} s  "
                      f"ratio {rest[-1] / cli[-1]:.2f}")  # fmt: skip
        finally:
            stack.stop()
    c, r = statistics.median(cli), statistics.median(rest)
    print(f"clip {args.height}p x {args.frames} frames, {args.faces} faces")
    print(f"median: cli {c:.2f} s  rest {r:.2f} s  ratio rest/cli {r / c:.2f} (goal <= 1.25)")


if __name__ == "__main__":
    main()
