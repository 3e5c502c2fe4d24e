"""Crop-level figures for a donor model: each 64 px crop painted as a small frame.

A donor model works on frames (landmarks, a warp at frame resolution), so each crop is upscaled
3x, its face found by YuNet for landmarks (the crop's central box without them when YuNet misses),
painted with one painter per track (one keyed donor per track, as in a clip), then brought back
to 64 px. Learned restoration does not exist for donor surrogates, so only the public-side figures
are measured: de-identification, faces stay faces (YuNet and dlib's HOG), stability per track.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.evaluation.judge import MATCH_THRESHOLD, DlibJudge, YuNetDetector
from shared.evaluation.metrics import mean, rate
from shared.video.detect import YuNetDetector as FrameDetector
from shared.video.types import FaceBox

UP = 3  # crops are painted at 192 px
CROP_FACE = 1.0 / 1.4  # real_faces.crop_face: the face box is the crop's central 1/(1+2*0.2)


def _frame_face(frame: np.ndarray, finder: FrameDetector, track: int) -> FaceBox:
    """YuNet's face (with landmarks) in an upscaled crop, or the crop's central box."""
    side = frame.shape[0]
    found = finder.detect(frame)
    if found:
        return max(found, key=lambda b: b.width).with_track(track)
    lo, hi = side * (1 - CROP_FACE) / 2, side * (1 + CROP_FACE) / 2
    return FaceBox(lo, lo, hi, hi, 1.0, track)


def paint_crops(model: Any, crops: Tensor, tracks: Tensor, key: bytes, set_name: str) -> Tensor:
    """Surrogates [N,3,64,64] in [0,1]: every crop painted by its track's painter."""
    finder = FrameDetector(score_threshold=0.5)
    painters: dict[int, Any] = {}
    out = torch.empty_like(crops)
    for i in range(crops.shape[0]):
        tid = int(tracks[i])
        painter = painters.setdefault(tid, model.painter(key, f"{set_name}/{tid}"))
        img = (crops[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        size = img.shape[0] * UP
        frame = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)[None].copy()
        painter.paint(frame, np.array([i]), [[_frame_face(frame[0], finder, 1)]])
        small = cv2.resize(frame[0], img.shape[:2][::-1], interpolation=cv2.INTER_AREA)
        out[i] = torch.from_numpy(small).permute(2, 0, 1).float() / 255.0
    return out


def _hog_finds(hog: Any, img: np.ndarray) -> bool:
    big = cv2.resize(img, (160, 160), interpolation=cv2.INTER_CUBIC)
    pad = np.ascontiguousarray(np.pad(big, ((40, 40), (40, 40), (0, 0)), mode="edge"))
    return len(hog(pad, 1)) > 0


def score_donor(x: list[np.ndarray], a: list[np.ndarray], tracks: Tensor, judge: DlibJudge,
                detector: YuNetDetector) -> dict[str, Any]:  # fmt: skip
    """The public-side figures of one crop set (rates in 0..1, distances in judge units)."""
    import dlib

    hog = dlib.get_frontal_face_detector()
    ex, ea = [judge.embed(i) for i in x], [judge.embed(i) for i in a]
    dist = [float(np.linalg.norm(p - q)) for p, q in zip(ex, ea, strict=True)]
    y_orig = [detector.finds_face(i) for i in x]
    h_orig = [_hog_finds(hog, i) for i in x]
    pairs = []
    for t in tracks.unique().tolist():
        idx = (tracks == t).nonzero().flatten().tolist()
        pairs += [float(np.linalg.norm(ea[i] - ea[j])) for i in idx for j in idx if i < j]
    return {
        "faces": len(x),
        "deid_rate": rate([d >= MATCH_THRESHOLD for d in dist]),
        "deid_mean_distance": mean(dist),
        "faces_stay_faces": rate(
            [detector.finds_face(i) for i, o in zip(a, y_orig, strict=True) if o]
        ),
        "faces_ceiling_originals": rate(y_orig),
        "hog_stays": rate([_hog_finds(hog, i) for i, o in zip(a, h_orig, strict=True) if o]),
        "track_mean_distance": mean(pairs),
        "track_share_below_threshold": rate([d < MATCH_THRESHOLD for d in pairs]),
    }
