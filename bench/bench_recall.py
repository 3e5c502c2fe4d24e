"""Recall/precision of the face stage (detect every k-th, downscaled) vs per-frame full-res detection.

Builds realistic clips (720p, real faces from packaged photos, 20-90 px, moving) and prints, per
(k, detect_scale): recall and precision against per-frame full-resolution detection (the reference the
issue asks for) and recall against the rendered ground truth, with detector calls and time.

    .venv/bin/python bench/bench_recall.py [--frames 60] [--faces 10] [--detector yunet]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from shared.video.decode import iter_frames
from shared.video.detect import make_detector
from shared.video.faces import FaceStage, FaceStageOptions
from shared.video.runtime import configure_cpu_threads
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.track import iou_matrix
from shared.video.types import FaceBox


def _arr(boxes: list[FaceBox]) -> np.ndarray:
    return np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes], dtype=np.float64).reshape(-1, 4)


def match_counts(
    found: list[list[FaceBox]], ref: list[list[FaceBox]], thr: float = 0.3
) -> tuple[int, int, int]:
    """(reference boxes matched, reference total, found total) with IoU >= thr."""
    hit = n_ref = n_found = 0
    for f, r in zip(found, ref, strict=True):
        n_ref, n_found = n_ref + len(r), n_found + len(f)
        if f and r:
            hit += int((iou_matrix(_arr(r), _arr(f)).max(axis=1) >= thr).sum())
    return hit, n_ref, n_found


def precision_counts(
    found: list[list[FaceBox]], ref: list[list[FaceBox]], thr: float = 0.3
) -> float:
    """Share of found boxes that overlap a reference box."""
    good = total = 0
    for f, r in zip(found, ref, strict=True):
        total += len(f)
        if f and r:
            good += int((iou_matrix(_arr(f), _arr(r)).max(axis=1) >= thr).sum())
    return good / max(total, 1)


MODES = {
    # name: (full_every, motion_gate, detect_scale); every keyframe at full res for "full"
    "full": (1, False, 1.0),
    "half+sweep20": (20, False, 0.5),
    "gate+sweep50": (50, True, 1.0),
}


def run_stage(
    path: Path, detector_name: str, every: int, mode: str
) -> tuple[list[list[FaceBox]], float, int]:
    """Boxes per frame from the face stage, seconds, detector calls."""
    full_every, gate, scale = MODES[mode]
    opts = FaceStageOptions(
        every=every, full_every=full_every, motion_gate=gate, detect_scale=scale
    )
    stage = FaceStage(make_detector(detector_name), opts)
    t0 = time.process_time()
    out: list[list[FaceBox]] = []
    for _, boxes in stage.run(iter_frames(path, batch=16)):
        out += boxes
    return out, time.process_time() - t0, stage.detector_calls


def per_frame_reference(path: Path, detector_name: str) -> tuple[list[list[FaceBox]], float]:
    """Full-resolution detection on every frame."""
    det = make_detector(detector_name)
    t0 = time.process_time()
    out = [det.detect(f) for b in iter_frames(path, batch=16) for f in b.frames]
    return out, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--faces", type=int, default=10)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--detector", default="yunet")
    ap.add_argument("--ks", default="1,5,10")
    ap.add_argument("--modes", default=",".join(MODES), help=f"of {list(MODES)}")
    args = ap.parse_args()
    configure_cpu_threads()  # before anything loads yuface's OpenMP runtime
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        spec = SceneSpec(
            args.width, args.height, args.frames, Fraction(25), args.faces, (22, 90), 3.0, seed=3
        )
        truth = write_clip(path, spec)
        ref, t_ref = per_frame_reference(path, args.detector)
        hit, n_ref, _ = match_counts(ref, truth)
        print(
            f"clip {args.width}x{args.height}, {args.frames} frames, {args.faces} faces 22-90 px, detector {args.detector}"
        )
        print(
            f"reference (per-frame full res): {t_ref / args.frames * 1000:.0f} CPU ms/frame, "
            f"recall vs ground truth {hit / max(n_ref, 1):.3f}"
        )
        print(
            f"{'k':>3} {'mode':>13} {'recall_ref':>10} {'prec_ref':>8} {'recall_gt':>9} "
            f"{'prec_gt':>7} {'calls':>6} {'cpu ms/f':>8}"
        )
        for k in (int(x) for x in args.ks.split(",")):
            for mode in args.modes.split(","):
                found, secs, calls = run_stage(path, args.detector, k, mode)
                r_hit, r_n, _ = match_counts(found, ref)
                g_hit, g_n, _ = match_counts(found, truth)
                print(
                    f"{k:>3} {mode:>13} {r_hit / max(r_n, 1):>10.3f} "
                    f"{precision_counts(found, ref):>8.3f} {g_hit / max(g_n, 1):>9.3f} "
                    f"{precision_counts(found, truth):>7.3f} {calls:>6} "
                    f"{secs / args.frames * 1000:>8.1f}"
                )


if __name__ == "__main__":
    main()
