"""Per-face cost of the public module (donor path), detection excluded, on one CPU thread.

Faces come from real photos (the eval-data cache, or scikit-image's astronaut), resized so the
face box is ``--sizes`` pixels wide; each face is painted as a track that already has its donor
(the per-track donor choice and render, ~10 ms once per track, is reported apart). Prints ms per
face for the classical composite and with the learned refiner, per face size: wall time, and the
process's CPU time (one thread each for torch and OpenCV, so on a busy machine the CPU time is the
steadier figure of the two).

    .venv/bin/python bench/bench_surrogate.py [--sizes 32,64,128,256] [--repeat 50]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _face_frame(size: int) -> tuple[object, object]:
    """A frame (uint8 RGB) holding one real face whose box is ``size`` px wide, and its box."""
    import cv2
    import numpy as np
    from skimage import data

    from shared.video.detect import YuNetDetector

    img = data.astronaut()
    box = YuNetDetector().detect(img)[0]
    s = size / box.width
    frame = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)),
                       interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)  # fmt: skip
    # The photo's own detection, scaled: YuNet's landmarks without re-detecting at odd scales.
    return np.ascontiguousarray(frame[None]), box.mapped(s, s).with_track(1)


def main() -> None:
    ap = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--sizes", default="32,64,128,256", help="face box widths in pixels")
    ap.add_argument("--repeat", type=int, default=50, help="timed paints per size")
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped weights")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2
    import numpy as np
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from shared.surrogate.model import load_face_model

    model = load_face_model(args.checkpoint)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        frames, face = _face_frame(size)
        idx = np.array([0])
        row: dict[str, object] = {"face_px": size}
        for refine in (False, True):
            model.refine = refine
            painter = model.painter(b"bench-key", "bench")
            t0 = time.perf_counter()
            painter.paint(frames.copy(), idx, [[face]])  # type: ignore[attr-defined]
            first = time.perf_counter() - t0  # includes the track's donor choice and render
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.repeat):
                painter.paint(frames.copy(), idx, [[face]])  # type: ignore[attr-defined]
            per = (time.perf_counter() - t0) / args.repeat
            cpu = (time.process_time() - c0) / args.repeat
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.repeat):
                frames.copy()  # type: ignore[attr-defined]
            per -= (time.perf_counter() - t0) / args.repeat
            cpu -= (time.process_time() - c0) / args.repeat
            key = "refined" if refine else "classical"
            row[f"{key}_ms_per_face"] = round(per * 1000, 2)
            row[f"{key}_cpu_ms_per_face"] = round(cpu * 1000, 2)
            row[f"{key}_first_face_ms"] = round(first * 1000, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"threads": torch.get_num_threads(), "load_avg": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
