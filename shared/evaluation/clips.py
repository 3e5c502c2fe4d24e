"""Frame-level evaluation of the public stream: the real pipeline on real clips, judged in the frame.

For each clip: ``deidentify_clip`` writes the public MP4 (the product, codec included); then on
sampled frames, for every face of the original (ground truth, or YuNet's detections):
- faces stay faces: do YuNet and dlib's HOG detector find a face there in the public frame (of the
  faces each finds in the original frame);
- de-identification: dlib judge distance between the original and the public face >= 0.6;
- seam: gradient energy along the crop square's border and the mask's outer band, public over
  original (1.0 = as before, the target is <= 1.5);
- one identity per track: the judge matches the surrogates of one track across frames.
False surrogates: donor faces painted where no face is (IoU < 0.3 with every true face), per minute.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from shared.crypto.keys import PublicSideKeys
from shared.evaluation.corpus import EvalClip
from shared.evaluation.judge import MATCH_THRESHOLD, Box, FrameJudge
from shared.evaluation.metrics import mean, rate
from shared.pipeline.types import DeidOptions
from shared.surrogate.geometry import as_points
from shared.surrogate.masks import oval_mask
from shared.surrogate.painters import PaintEvent
from shared.video.crops import CROP_MARGIN, square_geom
from shared.video.decode import iter_frames, probe
from shared.video.detect import YuNetDetector
from shared.video.types import FaceBox, box_iou

log = logging.getLogger(__name__)

WIDE = 100.0  # faces wider than this many pixels are also reported on their own


@dataclass
class FaceScore:
    """One face of one sampled frame."""

    width: float
    distance: float
    yunet_orig: bool
    yunet_pub: bool
    hog_orig: bool
    hog_pub: bool
    seam: float
    kind: str  # donor | blur | none (not painted)
    track: int


@dataclass
class ClipScore:
    """Per clip: faces, per-track surrogate embeddings, painter events, timing."""

    name: str
    frames: int
    fps: float
    faces: list[FaceScore] = field(default_factory=list)
    track_embeddings: dict[int, list[np.ndarray]] = field(default_factory=dict)
    false_surrogates: int = 0
    seconds: float = 0.0


class RecordingModel:
    """Wraps a face model so that evaluation sees every painted face (kind, box, frame)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.events: list[PaintEvent] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def painter(self, secret: bytes, clip_id: str, attributes: Any = None) -> Any:
        from shared.surrogate.model import painter_for

        painter = painter_for(self.model, secret, clip_id, attributes)
        painter.stats.events = self.events
        return painter


def _seam(orig: np.ndarray, pub: np.ndarray, box: FaceBox) -> float:
    """Gradient energy, public over original, on the crop border ring and the mask's outer band."""
    h, w = orig.shape[:2]
    g = square_geom(box, 0, w, h, CROP_MARGIN)
    band = np.zeros((h, w), bool)
    ring = 3
    band[g.cy0 : g.cy1, g.cx0 : g.cx1] = True
    band[g.cy0 + ring : g.cy1 - ring, g.cx0 + ring : g.cx1 - ring] = False
    if box.landmarks is not None:
        m = oval_mask(as_points(box.landmarks), (h, w), 1.25, 0.3)
        band |= (m > 0.02) & (m < 0.6)
    grads = []
    for img in (orig, pub):
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
        grads.append(float(np.sqrt(gx * gx + gy * gy)[band].mean()) if band.any() else 0.0)
    return grads[1] / max(grads[0], 1e-3)


def _sample(n: int, k: int) -> set[int]:
    return {round(i * (n - 1) / max(k - 1, 1)) for i in range(min(k, n))}


def _faces(clip: EvalClip, index: int, found: list[FaceBox]) -> list[FaceBox]:
    """True faces of a frame: ground truth (with YuNet's landmarks where it agrees), else YuNet's."""
    if clip.truth is None:
        return found
    out = []
    for t in clip.truth[index]:
        best = max(found, key=lambda f: box_iou(f.corners, t), default=None)
        agree = best is not None and box_iou(best.corners, t) > 0.4
        out.append(FaceBox(*t, 1.0, -1, best.landmarks if agree and best else None))
    return out


def _track_of(events: dict[int, list[PaintEvent]], index: int, box: Box) -> tuple[int, str]:
    best = max(events.get(index, []), key=lambda e: box_iou(e.box, box), default=None)
    if best is None or box_iou(best.box, box) < 0.3:
        return -1, "none"
    return best.track_id, best.kind


@dataclass
class _Original:
    """The original side of one sampled face, measured once for every repeat."""

    face: FaceBox
    embedding: np.ndarray
    yunet: bool
    hog: bool


def _originals(clip: EvalClip, samples: set[int], judge: FrameJudge
               ) -> tuple[dict[int, list[Box]], dict[int, list[_Original]], dict[int, np.ndarray]]:  # fmt: skip
    """True boxes of every frame; measured faces and the frames themselves at sampled indices."""
    finder = YuNetDetector(score_threshold=0.4, rescore_below=0.0)  # the judge stays as it was
    real: dict[int, list[Box]] = {}
    measured: dict[int, list[_Original]] = {}
    frames: dict[int, np.ndarray] = {}
    for batch in iter_frames(clip.path, 16):
        for frame, index in zip(batch.frames, batch.indices.tolist(), strict=True):
            faces = _faces(clip, index, finder.detect(frame))
            real[index] = [f.corners for f in faces]
            if index in samples:
                frames[index] = frame
                measured[index] = [_measure(f, frame, judge) for f in faces]
    return real, measured, frames


def _measure(face: FaceBox, frame: np.ndarray, judge: FrameJudge) -> _Original:
    box = face.corners
    return _Original(face, judge.embed(frame, box), judge.yunet_finds(frame, box),
                     judge.hog_finds(frame, box))  # fmt: skip


def score_clip(model: Any, clip: EvalClip, keys: PublicSideKeys, judge: FrameJudge,
               samples: int = 12, repeats: int = 3) -> ClipScore:  # fmt: skip
    """De-identify ``clip`` ``repeats`` times (another clip id each time, so other donors) with
    ``model`` and score every run (see the module docstring)."""
    import time

    from shared.pipeline.api import deidentify_clip

    info = probe(clip.path)
    wanted = _sample(info.frames, samples)
    real, measured, originals = _originals(clip, wanted, judge)
    out = ClipScore(clip.name, info.frames * repeats, float(info.fps))
    for r in range(repeats):
        rec = RecordingModel(model)
        with tempfile.TemporaryDirectory(prefix="uunet-eval-") as tmp:
            public = Path(tmp) / "public.mp4"
            t0 = time.perf_counter()
            deidentify_clip(clip.path, public, keys, rec,
                            DeidOptions(seal=False, clip_id=f"eval-{clip.name}-{r}"))  # fmt: skip
            out.seconds += time.perf_counter() - t0
            events: dict[int, list[PaintEvent]] = defaultdict(list)
            for e in rec.events:
                events[e.frame].append(e)
            for batch in iter_frames(public, 16):
                for pub, index in zip(batch.frames, batch.indices.tolist(), strict=True):
                    out.false_surrogates += sum(
                        1
                        for e in events.get(index, [])
                        if e.kind == "donor" and all(box_iou(e.box, t) < 0.3 for t in real[index])
                    )
                    for orig in measured.get(index, []):
                        _score_face(out, r, orig, originals[index], pub, events, index, judge)
    return out


def _score_face(out: ClipScore, run: int, orig: _Original, frame: np.ndarray, pub: np.ndarray,
                events: dict[int, list[PaintEvent]], index: int, judge: FrameJudge) -> None:  # fmt: skip
    box = orig.face.corners
    track, kind = _track_of(events, index, box)
    emb_pub = judge.embed(pub, box)
    out.faces.append(FaceScore(
        box[2] - box[0], float(np.linalg.norm(orig.embedding - emb_pub)),
        orig.yunet, judge.yunet_finds(pub, box), orig.hog, judge.hog_finds(pub, box),
        _seam(frame, pub, orig.face), kind, track,
    ))  # fmt: skip
    if track >= 0 and kind == "donor":
        out.track_embeddings.setdefault(run * 1_000_000 + track, []).append(emb_pub)


def summarise(scores: list[ClipScore], wide_only: bool = False) -> dict[str, Any]:
    """The issue-10 figures over faces (all, or wider than WIDE px only)."""
    faces = [f for s in scores for f in s.faces if not wide_only or f.width > WIDE]
    y_base = [f for f in faces if f.yunet_orig]
    h_base = [f for f in faces if f.hog_orig]
    pairs = [
        float(np.linalg.norm(a - b)) < MATCH_THRESHOLD
        for s in scores
        for embs in s.track_embeddings.values()
        for a, b in combinations(embs, 2)
    ]
    minutes = sum(s.frames / max(s.fps, 1e-6) for s in scores) / 60.0
    seams = [f.seam for f in faces if f.kind != "none"]
    return {
        "faces": len(faces),
        "yunet_kept": rate([f.yunet_pub for f in y_base]),
        "hog_kept": rate([f.hog_pub for f in h_base]),
        "deid_rate": rate([f.distance >= MATCH_THRESHOLD for f in faces]),
        "deid_mean_distance": mean([f.distance for f in faces]),
        "track_consistency": rate(pairs) if not wide_only else None,
        "seam_ratio_median": float(np.median(seams)) if seams else None,
        "seam_within_1_5": rate([s <= 1.5 for s in seams]),
        "blurred_share": rate([f.kind == "blur" for f in faces]),
        "missed_share": rate([f.kind == "none" for f in faces]),
        "false_surrogates_per_min": (
            sum(s.false_surrogates for s in scores) / minutes if minutes and not wide_only else None
        ),
    }


CLIP_TARGETS: dict[str, tuple[str, float]] = {
    "yunet_kept": (">=", 0.95),
    "hog_kept": (">=", 0.95),
    "deid_rate": (">=", 0.95),
    "track_consistency": (">=", 0.9),
    "seam_within_1_5": (">=", 1.0),
}


def evaluate_clips(model: Any, key: bytes, repeats: int = 3, samples: int = 12,
                   grey: bool = False) -> dict[str, Any]:  # fmt: skip
    """The real clips of the eval-data cache through the real pipeline: per clip, all, wide faces.

    ``key`` is the de-identification secret (fixed, so a report can be reproduced); ``grey``
    judges grey copies of the clips instead (night and IR footage).
    """
    from dataclasses import replace

    from shared.crypto.keys import init_keyset
    from shared.evaluation.corpus import build_corpus

    judge = FrameJudge()
    with tempfile.TemporaryDirectory(prefix="uunet-eval-clips-") as tmp:
        root = Path(tmp)
        init_keyset(root / "keys")
        keys = replace(PublicSideKeys.load(root / "keys"), secret=key)
        scores = []
        for clip in build_corpus(root, grey):
            log.info("eval clips: %s", clip.name)
            scores.append(score_clip(model, clip, keys, judge, samples, repeats))
    return {
        "clips": {s.name: {**summarise([s]), "deid_seconds": round(s.seconds, 2)} for s in scores},
        "all": summarise(scores),
        "wide": summarise(scores, wide_only=True),
        "repeats": repeats,
        "samples_per_run": samples,
        "targets": {k: {"op": op, "value": v} for k, (op, v) in CLIP_TARGETS.items()},
    }
