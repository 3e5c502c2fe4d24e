"""Restoration figures: face-region PSNR of the public clip, learned and sealed restoration (and
learned with a wrong secret), judge distances, and timings of ``uunet deid`` / ``uunet reid``.

    .venv/bin/python bench/bench_restore.py [--checkpoint P] [--size 256x192] [--frames 20]

Runs the real CLI in child processes on a clip with two real faces (``shared.video.synthetic``);
PSNR is measured inside the ground-truth face boxes against the decoded original.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.crypto.keys import PrivateSideKeys  # noqa: E402
from shared.pipeline.container import read_box  # noqa: E402
from shared.pipeline.reid import LearnedRestorer  # noqa: E402
from shared.video.decode import iter_frames  # noqa: E402
from shared.video.synthetic import SceneSpec, write_clip  # noqa: E402
from shared.video.types import FaceBox  # noqa: E402

UUNET = str(Path(sys.executable).parent / "uunet")


def frames_of(path: Path) -> np.ndarray:
    return np.concatenate([b.frames for b in iter_frames(path)])


def face_pixels(frames: np.ndarray, truth: list[list[FaceBox]]) -> np.ndarray:
    parts = []
    for frame, boxes in zip(frames, truth, strict=True):
        for b in boxes:
            x0, y0, x1, y1 = (round(v) for v in (b.x0, b.y0, b.x1, b.y1))
            parts.append(frame[y0:y1, x0:x1].reshape(-1, 3))
    return np.concatenate(parts)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-10))


def timed(*args: str | Path) -> float:
    start = time.perf_counter()
    res = subprocess.run([UUNET, *map(str, args)], capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        sys.exit(f"uunet {args[0]} failed: {res.stderr.strip()}")
    return time.perf_counter() - start


def wrong_secret_restore(public: Path, keys_dir: Path, checkpoint: Path | None) -> np.ndarray:
    """Learned restoration with the right model but another secret (what a key thief without the
    de-identification secret would get); bypasses the key-id refusal on purpose."""
    from dataclasses import replace

    from shared.model.inference import UUNetEngine

    engine = UUNetEngine.load(checkpoint)
    keys = replace(PrivateSideKeys.load(keys_dir), secret=b"\x5a" * 32)
    manifest = read_box(public).manifest
    learned = LearnedRestorer(engine, keys, manifest)
    by_frame = manifest.faces_by_frame()
    out = frames_of(public)
    for t in range(out.shape[0]):
        learned.apply(out[t : t + 1], [by_frame.get(t, [])])
    return out


def model_ceiling(truth_frames: np.ndarray, truth: list[list[FaceBox]],
                  checkpoint: Path | None) -> tuple[float, float]:  # fmt: skip
    """Face-box PSNR of restoring straight from the model's own surrogates (no paste, no codec),
    and of the same after pasting and re-cropping (no codec): what the pipeline itself costs."""
    from shared.model.inference import UUNetEngine
    from shared.pipeline.stages import CROP_MARGIN, NoiseBank, quantise
    from shared.video.crops import crop_faces, paste_faces

    engine = UUNetEngine.load(checkpoint)
    h, w = truth_frames.shape[1:3]
    boxes = [[q for b in bs if (q := quantise(b, w, h)) is not None] for bs in truth]
    crops, geoms = crop_faces(truth_frames, boxes, engine.crop_size, CROP_MARGIN)
    noise = NoiseBank(b"\x01" * 32, "bench", engine.crop_size).for_tracks(
        [g.track_id for g in geoms]
    )
    surrogates = engine.deidentify(crops, noise)
    public = paste_faces(truth_frames.copy(), surrogates, geoms, CROP_MARGIN)
    ideal = paste_faces(public.copy(), engine.restore(surrogates, noise), geoms, CROP_MARGIN)
    recrops, _ = crop_faces(public, boxes, engine.crop_size, CROP_MARGIN)
    piped = paste_faces(public.copy(), engine.restore(recrops, noise), geoms, CROP_MARGIN)
    ref = face_pixels(truth_frames, truth)
    return psnr(ref, face_pixels(ideal, truth)), psnr(ref, face_pixels(piped, truth))


def judge_distance(orig: np.ndarray, other: np.ndarray, truth: list[list[FaceBox]]) -> float | None:
    """Mean dlib judge distance on the astronaut's face (a full-size real face), or None."""
    try:
        from shared.evaluation.judge import DlibJudge

        judge = DlibJudge()
    except Exception:  # the eval extra is optional
        return None
    dists = []
    for t in range(0, len(truth), max(1, len(truth) // 4)):
        b = next(x for x in truth[t] if x.track_id == 1)
        x0, y0, x1, y1 = (round(v) for v in (b.x0, b.y0, b.x1, b.y1))
        dists.append(judge.distance(orig[t, y0:y1, x0:x1], other[t, y0:y1, x0:x1]))
    return float(np.mean(dists))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped weights")
    p.add_argument("--size", default="256x192")
    p.add_argument("--frames", type=int, default=20)
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    model = ("--checkpoint", str(args.checkpoint)) if args.checkpoint else ()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        clip, pub, keys = d / "in.mp4", d / "pub.mp4", d / "keys"
        truth = write_clip(clip, SceneSpec(w, h, frames=args.frames, n_faces=2,
                                           face_px=(44, 52), speed_px=2.0, seed=1))  # fmt: skip
        subprocess.run([UUNET, "keys", "init", str(keys)], check=True, capture_output=True)
        t_deid = timed("deid", clip, "-o", pub, "--keys", keys, "-q", *model)
        t_learn = timed("reid", pub, "-o", d / "l.mp4", "--keys", keys, "--mode", "learned", "-q",
                        *model)  # fmt: skip
        t_seal = timed("reid", pub, "-o", d / "s.mp4", "--keys", keys, "--mode", "sealed", "-q")
        orig = frames_of(clip)
        rows = {
            "public (de-identified)": frames_of(pub),
            "learned restoration": frames_of(d / "l.mp4"),
            "sealed restoration": frames_of(d / "s.mp4"),
            "learned, wrong secret": wrong_secret_restore(pub, keys, args.checkpoint),
        }
        ref = face_pixels(orig, truth)
        print(f"clip {w}x{h}, {args.frames} frames, 2 faces; model {args.checkpoint or 'shipped'}")
        print(f"uunet deid {t_deid:.1f} s, reid learned {t_learn:.1f} s, reid sealed {t_seal:.1f} s "
              "(wall, incl. process start)")  # fmt: skip
        from shared.video.synthetic import render

        rendered = np.stack([f for f, _ in render(SceneSpec(w, h, frames=args.frames, n_faces=2,
                             face_px=(44, 52), speed_px=2.0, seed=1))])  # fmt: skip
        ideal, piped = model_ceiling(rendered, truth, args.checkpoint)
        print(f"  model ceiling (no codec): restore from its own surrogates {ideal:.2f} dB, "
              f"after paste + re-crop {piped:.2f} dB")  # fmt: skip
        for name, frames in rows.items():
            dist = judge_distance(orig, frames, truth)
            judge = f", judge distance to original {dist:.3f}" if dist is not None else ""
            print(f"  {name:<24} face PSNR {psnr(ref, face_pixels(frames, truth)):6.2f} dB{judge}")


if __name__ == "__main__":
    main()
