"""Forensic figures: what each seal kind costs, how exactly faces come back, and what --seal adds.

For carphone (176x144, 120 frames, one real face) and a 720p many-face clip (``bench_deid``'s
``make_clip``), with the shipped model in this process:

- sizes: the original, the public clip without a seal and with each seal kind, the sealed payload
  alone, and what the first release's PNG-per-face payload would have been for the same regions;
- face-box PSNR of sealed restoration against the decoded original (the manifest's boxes), at the
  default CRF 16 and with ``--lossless`` ("exact" when identical);
- de-identification wall time per seal kind (the time ``--seal`` adds); on a shared machine these
  are noisy, so each is the best of ``--repeat`` runs;
- the restored clip written losslessly both ways considered (H.264 High 4:4:4 Predictive qp 0 in
  MP4, FFV1 in Matroska): size and encode speed.

    .venv/bin/python bench/bench_seal.py [--frames 150] [--faces 10] [--repeat 1] [--clips carphone,720]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("none", "regions", "original", "both")


def _frames(path: Path) -> np.ndarray:
    from shared.video.decode import iter_frames

    return np.concatenate([b.frames for b in iter_frames(path)])


def face_psnr(original: np.ndarray, restored: np.ndarray, faces: Any) -> str:
    """PSNR over every manifest face box, or "exact" when every pixel is identical."""
    a = np.concatenate([original[f.frame, f.y : f.y + f.h, f.x : f.x + f.w].ravel() for f in faces])
    b = np.concatenate([restored[f.frame, f.y : f.y + f.h, f.x : f.x + f.w].ravel() for f in faces])
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return "exact" if mse == 0 else f"{10 * np.log10(255.0**2 / mse):.2f} dB"


def legacy_png_bytes(public: Path, keys: Any) -> int:
    """What the first release's payload (one PNG per face per frame) holds for the same regions."""
    import cv2

    from shared.crypto.seal import open_stream
    from shared.pipeline.container import read_box, sealed_reader
    from shared.pipeline.region_reader import RegionReader

    emb = read_box(public)
    total = 0
    with sealed_reader(emb) as fh:
        tracks = frozenset(t.track_id for t in emb.manifest.tracks)
        reader = RegionReader(open_stream(fh, keys.authority_private), tracks)
        for index in range(emb.manifest.frames):
            for rec in reader.for_frame(index):
                png = cv2.imencode(".png", np.ascontiguousarray(rec.pixels[:, :, ::-1]))[1]
                total += 32 + len(png)  # the record header of the first release
    return total


def lossless_containers(frames: np.ndarray, fps: Fraction, work: Path) -> list[str]:
    """The same frames through both lossless candidates: size and encode frames per second."""
    import av

    rows = []
    for name, fmt, codec, pix, opts in (
        ("H.264 4:4:4 Predictive qp0 MP4", "mp4", "libx264rgb", "rgb24",
         {"qp": "0", "preset": "medium"}),
        ("FFV1 level 3 Matroska", "matroska", "ffv1", "bgr0", {"level": "3", "slicecrc": "1"}),
    ):  # fmt: skip
        path = work / f"lossless.{fmt}"
        start = time.perf_counter()
        with av.open(str(path), "w", format=fmt) as out:
            stream = out.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix
            stream.options = opts
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame = frame if pix == "rgb24" else frame.reformat(format=pix)
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        fps_enc = len(frames) / (time.perf_counter() - start)
        rows.append(f"    {name:32s} {path.stat().st_size:>12,d} B  {fps_enc:6.1f} frames/s")
    return rows


def bench_clip(name: str, src: Path, work: Path, engine: Any, repeat: int) -> None:
    """Every figure for one clip, printed as it comes."""
    from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset
    from shared.pipeline.api import DeidOptions, ReidOptions, deidentify_clip, reidentify_clip
    from shared.pipeline.container import read_box

    keys_dir = work / f"keys-{name}"
    init_keyset(keys_dir)
    pub, priv = PublicSideKeys.load(keys_dir), PrivateSideKeys.load(keys_dir)
    size = src.stat().st_size
    print(f"\n== {name}: {src.name}, original {size:,d} B")
    print(f"  {'seal':9s} {'public clip':>14s} {'x orig':>7s} {'sealed payload':>15s} {'x orig':>7s}"
          f" {'deid s':>7s} {'+s vs none':>10s}")  # fmt: skip
    seconds: dict[str, float] = {}
    for kind in KINDS:
        out = work / f"{name}-{kind}.mp4"
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            deidentify_clip(src, out, pub, engine, DeidOptions(seal=kind, clip_id="bench"))
            runs.append(time.perf_counter() - start)
        seconds[kind] = min(runs)
        sealed = read_box(out).sealed_length
        print(f"  {kind:9s} {out.stat().st_size:>14,d} {out.stat().st_size / size:>7.3f} "
              f"{sealed:>15,d} {sealed / size:>7.3f} {seconds[kind]:>7.1f} "
              f"{seconds[kind] - seconds['none']:>+10.1f}", flush=True)  # fmt: skip
    regions = work / f"{name}-regions.mp4"
    png = legacy_png_bytes(regions, priv)
    print(f"  first-release payload for the same regions (PNG per face per frame): {png:,d} B "
          f"= {png / size:.3f} x original")  # fmt: skip
    manifest = read_box(regions).manifest
    original = _frames(src)
    print(f"  sealed restore, face-box PSNR vs the decoded original ({len(manifest.faces)} boxes):")
    for lossless in (False, True):
        back = work / f"{name}-back-{lossless}.mp4"
        report = reidentify_clip(regions, back, priv, None,
                                 ReidOptions(mode="sealed", lossless=lossless))  # fmt: skip
        label = "--lossless" if lossless else "default (CRF 16)"
        print(f"    {label:18s} {face_psnr(original, _frames(back), manifest.faces):>9s}  "
              f"{back.stat().st_size:>12,d} B  {report.seconds:.1f} s", flush=True)  # fmt: skip
    print("  the lossless restored clip written both ways considered:")
    restored = _frames(work / f"{name}-back-True.mp4")
    for row in lossless_containers(restored, Fraction(manifest.rate), work):
        print(row, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--frames", type=int, default=150, help="frames of the 720p clip")
    ap.add_argument("--faces", type=int, default=10, help="faces in the 720p clip")
    ap.add_argument("--repeat", type=int, default=1, help="deid runs per seal kind (best kept)")
    ap.add_argument("--clips", default="carphone,720", help="carphone and/or 720")
    args = ap.parse_args()
    from bench.bench_deid import make_clip
    from shared.data.real_faces import carphone_path
    from shared.model.inference import UUNetEngine
    from shared.video.runtime import configure_cpu_threads

    configure_cpu_threads("cpu")
    engine = UUNetEngine.load(None)
    print(f"model {engine.model_id} {engine.model_version}; times are wall seconds on this machine")
    with tempfile.TemporaryDirectory(prefix="uunet-bench-seal-") as tmp:
        work = Path(tmp)
        for clip in args.clips.split(","):
            if clip == "carphone":
                bench_clip("carphone", carphone_path(), work, engine, args.repeat)
            else:
                src = work / "many720.mp4"
                make_clip(src, 720, args.frames, args.faces)
                bench_clip(f"720p x{args.faces} faces", src, work, engine, args.repeat)


if __name__ == "__main__":
    main()
