"""Fit the learned soft decoder of the payload (``shared/payload/llr_model.py``).

Synthetic scenes only (a DCGAN face from pip ``gan-face-generate`` on a textured background, with
sensor noise, slow face motion and sometimes a camera pan), marked with random codewords, carried
through real libx264: the product's own encode (veryfast, CRF 20 or 23), then a re-encode at CRF 23
or 28, a half-size rescale, or a cut. Each scene's observations are cached in the run folder, so an
interrupted run resumes where it stopped.

    nice -n 10 .venv/bin/python scripts/train_payload_llr.py --scenes 24 \
        --run-dir ~/.cache/uunet/runs/payload-llr --out models/payload/llr.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.data.dcgan import load_dcgan
from shared.evaluation.transcode import Transcode, decode_luma, encode_rgb, transcode
from shared.payload.carrier import PayloadFormat
from shared.payload.embed import PayloadEmbedder
from shared.payload.extract import TrackReader
from shared.payload.llr_model import LlrModel, fit

CASES = {"re23": Transcode(23), "re28": Transcode(28), "half": Transcode(23, scale=0.5)}
SIZES = ((640, 360), (512, 384), (768, 432))
PER_CASE = 20_000  # observations kept per scene and case


def _background(rng: np.random.Generator, w: int, h: int, pad: int) -> np.ndarray:
    """Grey texture at two scales (walls, clutter), a light ramp and a tint: [h+2p, w+2p, 3]."""
    shape = (h + 2 * pad, w + 2 * pad)
    tex = np.zeros(shape, np.float32)
    for sigma, amp in (
        (rng.uniform(12, 40), rng.uniform(10, 40)),
        (rng.uniform(2, 6), rng.uniform(2, 15)),
    ):
        layer = cv2.GaussianBlur(rng.normal(size=shape).astype(np.float32), (0, 0), sigma)
        tex += layer * (amp / max(float(layer.std()), 1e-6))
    tex += np.linspace(-1, 1, shape[1], dtype=np.float32)[None, :] * rng.uniform(0, 40)
    tint = rng.uniform(0.8, 1.2, size=3).astype(np.float32)
    return tex[..., None] * tint + rng.uniform(60, 170) * tint


def _face(rng: np.random.Generator, generator: torch.nn.Module, side: int) -> np.ndarray:
    with torch.no_grad():
        face = generator(torch.from_numpy(rng.normal(size=(1, 100, 1, 1)).astype(np.float32)))
    rgb = ((face[0].permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.float32)
    return cv2.resize(rgb, (side, round(side * 1.3)), interpolation=cv2.INTER_CUBIC)


def scene(rng: np.random.Generator, generator: torch.nn.Module):  # type: ignore[no-untyped-def]
    """Frames (RGB uint8) and the face box per frame of one synthetic scene."""
    w, h = SIZES[rng.integers(len(SIZES))]
    frames_n, side, pad = int(rng.integers(96, 161)), int(rng.integers(80, 201)), 32
    bg, face = _background(rng, w, h, pad), _face(rng, generator, side)
    fh, fw = face.shape[:2]
    yy, xx = np.mgrid[0:fh, 0:fw]
    mask = np.clip(1.5 - np.hypot((xx - fw / 2) / (fw / 2), (yy - fh / 2) / (fh / 2)) * 1.5, 0, 1)
    x, y = rng.uniform(pad, w - fw - pad), rng.uniform(pad, h - fh - pad)
    vx, vy, pan = (
        rng.uniform(-0.3, 0.3),
        rng.uniform(-0.2, 0.2),
        rng.uniform(0, 0.4) * (rng.random() < 0.3),
    )
    noise = rng.uniform(0.5, 2.5)
    frames, boxes = [], {}
    for t in range(frames_n):
        shift = np.float32([[1, 0, -pad - pan * t], [0, 1, -pad]])
        frame = cv2.warpAffine(bg, shift, (w, h), flags=cv2.INTER_LINEAR)
        fx = float(np.clip(x + vx * t + rng.normal(0, 0.2), 0, w - fw))
        fy = float(np.clip(y + vy * t + rng.normal(0, 0.2), 0, h - fh))
        place = np.float32([[1, 0, fx], [0, 1, fy]])
        f_img = cv2.warpAffine(face, place, (w, h), flags=cv2.INTER_LINEAR)
        f_mask = cv2.warpAffine(mask.astype(np.float32), place, (w, h), flags=cv2.INTER_LINEAR)
        frame = frame * (1 - f_mask[..., None]) + f_img * f_mask[..., None]
        frame += rng.normal(0, noise, size=(h, w, 1)).astype(np.float32) + rng.normal(0, 0.5)
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
        boxes[t] = (
            float(round(fx)),
            float(round(fy)),
            float(round(fx + fw)),
            float(round(fy + fh)),
        )
    return frames, boxes


def observe(planes: list[np.ndarray], boxes: dict[int, tuple[float, ...]], start: int,
            bits: np.ndarray, fmt: PayloadFormat, rng: np.random.Generator) -> dict[str, np.ndarray]:  # fmt: skip
    """A sample of the observations of one received clip, with their true bits."""
    reader = TrackReader(fmt.bits, fmt.channel)
    for k, plane in enumerate(planes):
        reader.observe(plane, k, boxes[k + start])  # type: ignore[arg-type]
    soft = reader.read()
    assert soft is not None and soft.evidence is not None
    ev = soft.evidence
    keep = rng.choice(ev.bit.size, size=min(PER_CASE, ev.bit.size), replace=False)
    return {"features": ev.features[keep], "soft": ev.soft[keep], "bits": bits[ev.bit[keep]]}


def run_scene(index: int, generator: torch.nn.Module, fmt: PayloadFormat) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1000 + index)
    frames, boxes = scene(rng, generator)
    bits = rng.integers(0, 2, fmt.bits)
    embedder = PayloadEmbedder(fmt.channel)
    embedder.set_codeword(1, bits)
    for k, frame in enumerate(frames):
        embedder.mark(frame, k, [(1, boxes[k])])  # type: ignore[list-item]
    public = encode_rgb(frames, crf=int(rng.choice([20, 23])))
    size = (frames[0].shape[1], frames[0].shape[0])
    parts = [observe(decode_luma(public), boxes, 0, bits, fmt, rng)]
    cut = len(frames) // 3
    for how in (*CASES.values(), Transcode(23, start=cut)):
        parts.append(
            observe(decode_luma(transcode(public, how), size), boxes, how.start, bits, fmt, rng)
        )
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenes", type=int, default=24)
    p.add_argument("--run-dir", type=Path, default=Path.home() / ".cache/uunet/runs/payload-llr")
    p.add_argument("--out", type=Path, default=Path("models/payload/llr.json"))
    args = p.parse_args()
    args.run_dir.mkdir(parents=True, exist_ok=True)
    fmt, generator = PayloadFormat(), load_dcgan()
    data = []
    for i in range(args.scenes):
        path = args.run_dir / f"scene_{i:03d}.npz"
        if not path.exists():
            t0 = time.time()
            np.savez_compressed(path, **run_scene(i, generator, fmt))
            print(f"scene {i}: {time.time() - t0:.0f} s", flush=True)
        data.append(dict(np.load(path)))
    joined = {k: np.concatenate([d[k] for d in data]) for k in data[0]}
    weights = fit(joined["features"], joined["soft"], joined["bits"])
    trained = {"scenes": args.scenes, "observations": int(joined["bits"].size),
               "source": "synthetic DCGAN faces on textures through libx264 (own, re23, re28, half, cut)",
               "channel": repr(fmt.channel), "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    LlrModel(weights, trained_on=trained).save(args.out)
    print(f"weights {np.round(weights, 3).tolist()} -> {args.out}")


if __name__ == "__main__":
    main()
