"""Child-process bodies of bench_deid.py: each prints one JSON line with its own timing."""

from __future__ import annotations

import json
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def _engine(device: str) -> Any:
    from shared.video.runtime import configure_cpu_threads

    configure_cpu_threads(device)  # as the CLI does
    from shared.domain.errors import ConfigError
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine

    try:
        return UUNetEngine.load(device=device, part="public")
    except ConfigError:  # no shipped weights yet: same architecture, random weights, same cost
        return UUNetEngine.from_config(ModelConfig.product(), device=device)


def transcode(src: str, dst: str) -> dict[str, float]:
    """Plain decode + encode: decoded frames straight into libx264 with the pipeline's settings."""
    import av

    from shared.video.types import EncodeOptions

    opts = EncodeOptions()
    t0 = time.perf_counter()
    frames = 0
    with av.open(src) as inp, av.open(dst, "w", options={"movflags": "+faststart"}) as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.options = {"crf": str(opts.crf), "preset": opts.preset, "profile": "high"}
        for frame in inp.decode(vin):
            frame.pts, frame.time_base = frames, 1 / vin.average_rate
            out.mux(vout.encode(frame))
            frames += 1
        out.mux(vout.encode(None))
    return {"seconds": time.perf_counter() - t0, "frames": frames}


def stages(src: str, dst: str, device: str, every: str) -> dict[str, float]:
    """The video stages + engine, without signing or sealing."""
    from shared.model.keyed_noise import track_noise
    from shared.video.crops import crop_faces, paste_faces
    from shared.video.decode import iter_frames, probe
    from shared.video.detect import make_detector
    from shared.video.encode import VideoWriter
    from shared.video.faces import FaceStage, FaceStageOptions

    engine = _engine(device)
    t0 = time.perf_counter()
    info = probe(Path(src))
    stage = FaceStage(make_detector("yunet"), FaceStageOptions(every=int(every) or 5))
    faces = 0
    import torch

    with VideoWriter(Path(dst), info) as writer:
        for batch, boxes in stage.run(iter_frames(Path(src), batch=8, info=info)):
            crops, geoms = crop_faces(batch.frames, boxes)
            if geoms:
                noise = torch.cat([track_noise(b"k" * 32, "bench", g.track_id) for g in geoms])
                paste_faces(batch.frames, engine.deidentify(crops, noise), geoms)
                faces += len(geoms)
            writer.write(batch.frames)
    return {"seconds": time.perf_counter() - t0, "faces": faces}


def api(src: str, dst: str, device: str, every: str) -> dict[str, float]:
    """``shared.pipeline.api.deidentify_clip`` (sign + seal included)."""
    from shared.crypto.keys import PublicSideKeys, init_keyset
    from shared.pipeline.api import DeidOptions, deidentify_clip

    engine = _engine(device)
    with tempfile.TemporaryDirectory() as tmp:
        init_keyset(Path(tmp) / "keys")
        keys = PublicSideKeys.load(Path(tmp) / "keys")
        opts = DeidOptions(device=device, **({"detect_every": int(every)} if int(every) else {}))
        t0 = time.perf_counter()
        report = deidentify_clip(Path(src), Path(dst), keys, engine, opts)
    return {"seconds": time.perf_counter() - t0, "faces": report.faces}


def _checkpoint(work: Path) -> Path | None:
    """The shipped weights if present (None), else a random product-config checkpoint in ``work``."""
    from shared.model.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine

    if Path(DEFAULT_CHECKPOINT).exists():
        return None
    path = work / "random-product.pt"
    if not path.exists():
        config = ModelConfig.product()
        save_checkpoint(path, UUNetEngine.from_config(config).generator, config)
    return path


def _prepare_cli(uunet: str, keys: str) -> None:
    """Key set and weights made before the clock starts."""
    if not Path(keys).exists():
        subprocess.run([uunet, "keys", "init", keys], check=True, capture_output=True)
    _checkpoint(Path(keys).parent)


def cli(uunet: str, src: str, dst: str, device: str, keys: str, every: str) -> dict[str, float]:
    """``uunet deid`` end to end (process start, imports and weight loading included)."""
    cmd = [uunet, "deid", src, "-o", dst, "--keys", keys, "--device", device]
    ckpt = _checkpoint(Path(keys).parent)
    cmd += ["--checkpoint", str(ckpt)] if ckpt is not None else []
    cmd += ["--detect-every", every] if int(every) else []
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"uunet deid failed: {done.stderr.strip()[-500:]}")
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the uunet process
    found = re.search(r"(\d+) faces", done.stdout)  # the summary line
    return {"seconds": seconds, "faces": int(found.group(1)) if found else -1, "rss_mib_inner": rss}


def _cpu_s() -> float:
    """CPU seconds (user + system, all threads) of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_child(kind: str, argv: list[str]) -> None:
    """Dispatch ``--child-KIND`` and print its JSON line (seconds and CPU seconds of the work)."""
    fn = {"transcode": transcode, "stages": stages, "api": api, "cli": cli}[kind]
    if kind == "cli":
        _prepare_cli(argv[0], argv[4])
    cpu0 = _cpu_s()
    out = fn(*argv)
    out["cpu_s"] = _cpu_s() - cpu0  # includes the engine build; small next to the clip
    print(json.dumps(out), flush=True)
