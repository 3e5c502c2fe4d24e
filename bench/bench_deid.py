"""De-identification throughput vs a plain transcode of the same clip, same encoder settings.

Builds 720p and 1080p clips with many real faces (packaged photos, moving), then, each in its own
child process (peak RSS from ``wait4``'s ru_maxrss): a plain decode+encode (CRF 20, veryfast: the
pipeline's defaults), and de-identification: ``uunet deid`` when the CLI has it (``--via cli``),
else ``shared.pipeline.api.deidentify_clip`` (``--via api``), or the video stages alone with the
engine (``--via stages``). The engine is the shipped checkpoint when present, else a randomly
initialised product model (same architecture and cost). Also runs a clip twice as long to show
memory stays flat.

    .venv/bin/python bench/bench_deid.py [--frames 150] [--faces 10] [--sizes 720,1080]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {360: (640, 360), 720: (1280, 720), 1080: (1920, 1080)}


def _popen_rss(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Like _child but reaps with wait4 itself, so ru_maxrss is this child's own peak."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"child failed ({' '.join(cmd[:5])}): {err.decode()[-3000:]}")
    data: dict[str, float] = {}
    for line in out.decode().splitlines():
        if line.startswith("{"):
            data.update(json.loads(line))
    data["wall_s"] = wall
    # peak RSS of the child; for --via cli, of the uunet process it ran
    data["rss_mib"] = data.pop("rss_mib_inner", usage.ru_maxrss / 1024)
    return data


def _cli_has_deid() -> bool:
    return (ROOT / "uunet_cli" / "commands" / "deid.py").exists()


def make_clip(path: Path, height: int, frames: int, faces: int) -> None:
    """A clip of ``faces`` real faces (30-110 px, moving) over a textured background."""
    from shared.video.synthetic import SceneSpec, write_clip

    w, h = SIZES[height]
    lo, hi = (22, 90) if height <= 720 else (30, 130)
    write_clip(path, SceneSpec(w, h, frames, Fraction(25), faces, (lo, hi), 3.0, seed=7))


def main() -> None:
    ap = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--faces", type=int, default=10)
    ap.add_argument("--sizes", default="720,1080")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, or both (cuda only if available)")
    ap.add_argument("--via", default="auto", choices=["auto", "cli", "api", "stages"])
    ap.add_argument(
        "--every", type=int, default=0, help="detect every k-th frame (0: pipeline default)"
    )
    ap.add_argument("--no-long", action="store_true", help="skip the 2x-longer memory check")
    args = ap.parse_args()
    via = ("cli" if _cli_has_deid() else "api") if args.via == "auto" else args.via
    devices = _devices(args.device)
    with tempfile.TemporaryDirectory(prefix="uunet-bench-") as tmp:
        work = Path(tmp)
        print(f"faces={args.faces} frames={args.frames} via={via} cores={os.cpu_count()}")
        print(
            f"{'clip':>12} {'device':>6} {'transcode fps':>13} {'deid fps':>9} {'ratio':>6} "
            f"{'cpu ratio':>9} {'RSS transcode':>13} {'RSS deid':>9}"
        )
        for height in (int(s) for s in args.sizes.split(",")):
            lengths = (
                [args.frames] if args.no_long or height != 720 else [args.frames, 2 * args.frames]
            )
            for frames in lengths:
                src = work / f"clip{height}_{frames}.mp4"
                make_clip(src, height, frames, args.faces)
                plain = _popen_rss(
                    [
                        sys.executable,
                        __file__,
                        "--child-transcode",
                        str(src),
                        str(work / "plain.mp4"),
                    ]
                )
                for device in devices:
                    deid = _popen_rss(_deid_cmd(via, src, work, device, args.every))
                    ratio = deid["seconds"] / plain["seconds"]
                    cpu_ratio = deid["cpu_s"] / plain["cpu_s"]
                    print(
                        f"{height}p x{frames:>4} {device:>6} {frames / plain['seconds']:>13.1f} "
                        f"{frames / deid['seconds']:>9.1f} {ratio:>6.2f} {cpu_ratio:>9.2f} "
                        f"{plain['rss_mib']:>10.0f} MiB "
                        f"{deid['rss_mib']:>5.0f} MiB   (faces {deid.get('faces', -1):.0f}, "
                        f"wall {deid['wall_s']:.1f} s)",
                        flush=True,
                    )


def _devices(arg: str) -> list[str]:
    import torch

    if arg == "both":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return [arg]


def _deid_cmd(via: str, src: Path, work: Path, device: str, every: int) -> list[str]:
    dst = work / f"deid_{device}.mp4"
    if via == "cli":
        uunet = str(Path(sys.executable).parent / "uunet")
        keys = str(work / "keys")
        return [
            sys.executable,
            __file__,
            "--child-cli",
            uunet,
            str(src),
            str(dst),
            device,
            keys,
            str(every),
        ]
    return [sys.executable, __file__, f"--child-{via}", str(src), str(dst), device, str(every)]


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1].startswith("--child-"):
    sys.path.insert(0, str(ROOT))
    from bench.deid_children import run_child

    run_child(sys.argv[1][len("--child-") :], sys.argv[2:])
elif __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
