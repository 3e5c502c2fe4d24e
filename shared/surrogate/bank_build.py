"""Build donor banks: from the frozen DCGAN face prior, or from a folder of face images a deployment
has rights to. Each candidate is kept only when three independent detectors agree it is a face
(YuNet and CenterFace, with landmarks that form one and agree between them, and OpenCV's Haar
frontal cascade, a classical gradient-style detector that blurry or garbled faces fail), and its
eyes, colours and mouth pass the checks of ``features``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from shared.domain.errors import ConfigError
from shared.surrogate.donors import DonorBank
from shared.surrogate.features import (
    Features,
    chroma_spread,
    eye_contrast,
    measure,
    pale_eyes,
    shadow_share,
)
from shared.surrogate.geometry import Plausibility, plausible, pose
from shared.video.detect import CenterFaceDetector, YuNetDetector
from shared.video.types import FaceBox

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass(frozen=True)
class BankOptions:
    """Candidate count, seeds and the bars a donor must clear."""

    count: int = 8192  # DCGAN latents tried
    seed: int = 20_261_129
    upscale: int = 2  # donors are detected at this many times their size, on an edge-padded canvas
    min_yunet: float = 0.85
    min_centerface: float = 0.6
    max_disagreement: float = 0.2  # mean landmark distance between detectors, in eye distances
    max_abs_roll: float = 12.0  # degrees: a tilted donor costs sharpness when rotated back
    image_size: int = 128  # side of the aligned crops kept from a folder of images
    skin_a: tuple[float, float] = (4.0, 40.0)  # Lab a* of the face: rejects green/grey/blue faces
    skin_b: tuple[float, float] = (4.0, 45.0)  # Lab b*
    max_mouth_open: float = 0.45  # share of dark or bright pixels between the mouth corners
    max_shadow: float = 0.15  # features.shadow_share: drops half-shadowed, hair-covered faces
    min_eye_contrast: float = 0.45  # eyes.eye_contrast: drops washed-out, blind-looking eyes
    max_pale_eyes: float = 0.55  # features.pale_eyes: drops eyes without a dark pupil (~13%)
    max_chroma_spread: float = 6.0  # features.chroma_spread: drops garish colour artefacts
    haar: bool = True  # OpenCV's Haar frontal cascade must find the face too
    # YuNet's confidence on the donor shrunk to 36 px and blown up again (a small face in a wide
    # shot): donors that stay detectable there stay faces to other detectors too (on 300 donors,
    # dlib's HOG found 97% of the top half by this score and 84% of the bottom half).
    min_small_score: float = 0.9
    bounds: Plausibility = field(default_factory=lambda: Plausibility(min_score=0.0, max_yaw=0.6))


@dataclass(frozen=True)
class Checked:
    """A candidate that passed: landmarks in its own pixels and a quality score."""

    points: np.ndarray  # [5,2]
    quality: float
    features: Features


def _largest(faces: list[FaceBox]) -> FaceBox | None:
    return max(faces, key=lambda b: b.width * b.height) if faces else None


def check_face(image: np.ndarray, detectors: tuple[YuNetDetector, CenterFaceDetector],
               options: BankOptions) -> Checked | None:  # fmt: skip
    """Landmarks of the one face filling ``image`` (RGB uint8 [S,S,3]) if it clears every bar."""
    k = options.upscale
    side = image.shape[0]
    big = cv2.resize(image, (side * k, side * k), interpolation=cv2.INTER_CUBIC)
    pad = side * k // 2
    canvas = np.pad(big, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    yn, cf = (_largest(d.detect(canvas)) for d in detectors)
    if yn is None or cf is None or yn.landmarks is None or cf.landmarks is None:
        return None
    if yn.score < options.min_yunet or cf.score < options.min_centerface:
        return None
    p_yn = (np.asarray(yn.landmarks).reshape(5, 2) - pad) / k
    p_cf = (np.asarray(cf.landmarks).reshape(5, 2) - pad) / k
    geo = pose(p_yn)
    if geo.iod <= 0 or abs(geo.roll) > options.max_abs_roll:
        return None
    if not plausible(p_yn, yn.width / k, 1.0, options.bounds):
        return None
    disagreement = float(np.linalg.norm(p_yn - p_cf, axis=1).mean()) / geo.iod
    if disagreement > options.max_disagreement:
        return None
    points = (p_yn + p_cf) / 2
    feats = measure(image, points)
    if feats.mouth > options.max_mouth_open:
        return None
    if not (options.skin_a[0] <= feats.tone[1] <= options.skin_a[1]) or not (
        options.skin_b[0] <= feats.tone[2] <= options.skin_b[1]
    ):
        return None
    lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    eyes = eye_contrast(lum, points, geo.iod)
    chroma = chroma_spread(image, points)
    if eyes < options.min_eye_contrast or chroma > options.max_chroma_spread:
        return None
    if pale_eyes(lum, points, geo.iod) > options.max_pale_eyes:
        return None
    if shadow_share(image, points) > options.max_shadow:
        return None
    if options.haar and not _haar_finds(canvas, points * k + pad, geo.iod * k):
        return None
    small = small_face_score(image, detectors[0])
    if small < options.min_small_score:
        return None
    return Checked(points, yn.score + cf.score - disagreement + eyes - chroma / 10.0, feats)


def small_face_score(image: np.ndarray, finder: YuNetDetector, side: int = 36) -> float:
    """YuNet's best confidence on ``image`` shrunk to ``side`` px, upscaled 4x on a padded canvas."""
    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (side * 4, side * 4), interpolation=cv2.INTER_CUBIC)
    canvas = np.pad(big, ((side * 2, side * 2), (side * 2, side * 2), (0, 0)), mode="edge")
    return max((f.score for f in finder.detect(np.ascontiguousarray(canvas))), default=0.0)


@lru_cache(maxsize=1)
def _haar() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
    return cv2.CascadeClassifier(path)


def _haar_finds(canvas: np.ndarray, points: np.ndarray, iod: float) -> bool:
    """OpenCV's frontal-face Haar cascade finds a face 2-6 eye distances wide centred on the
    landmarks (``points`` and ``iod`` in canvas pixels)."""
    grey = cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)
    lo, hi = round(2.0 * iod), round(6.0 * iod)
    found = _haar().detectMultiScale(grey, 1.1, 4, minSize=(lo, lo), maxSize=(hi, hi))
    cx, cy = points.mean(axis=0)
    return any(abs(x + w / 2 - cx) < iod and abs(y + h / 2 - cy) < iod for x, y, w, h in found)


def _detectors() -> tuple[YuNetDetector, CenterFaceDetector]:
    return YuNetDetector(score_threshold=0.3), CenterFaceDetector(score_threshold=0.3)


def build_dcgan_bank(options: BankOptions | None = None, batch: int = 256) -> DonorBank:
    """Draw ``count`` latents from the DCGAN, keep the faces that clear every bar."""
    from shared.data.dcgan import load_dcgan

    o = options or BankOptions()
    gen = load_dcgan()
    rng = torch.Generator().manual_seed(o.seed)
    latents = torch.randn(o.count, 100, 1, 1, generator=rng)
    dets = _detectors()
    kept: list[tuple[int, Checked]] = []
    for start in range(0, o.count, batch):
        with torch.inference_mode():
            out = gen(latents[start : start + batch])
        images = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        for j, img in enumerate(images.numpy()):
            checked = check_face(img, dets, o)
            if checked is not None:
                kept.append((start + j, checked))
        log.info("donor bank: %d of %d kept so far", len(kept), min(start + batch, o.count))
    if not kept:
        raise ConfigError("no DCGAN face passed the donor checks")
    idx = [i for i, _ in kept]
    return _bank("dcgan", kept, 64, {"source": "dcgan", "seed": o.seed, "tried": o.count},
                 latents=latents[idx].clone(), generator=gen)  # fmt: skip


def _bank(kind: str, kept: list[tuple[int, Checked]], size: int,
          meta: Mapping[str, object], **extra: object) -> DonorBank:  # fmt: skip
    return DonorBank(
        kind=kind,
        points=np.stack([c.points for _, c in kept]),
        features=np.stack([c.features.as_row() for _, c in kept]),
        quality=np.array([c.quality for _, c in kept]),
        size=size,
        meta={**meta, "kept": len(kept)},
        **extra,  # type: ignore[arg-type]
    )


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(f"donor folder {folder} is not a directory")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"donor folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def folder_digest(folder: Path) -> str:
    """A digest of the folder's image names, sizes and times: the cache key of its bank."""
    h = hashlib.sha256()
    for p in _image_files(folder):
        st = p.stat()
        h.update(f"{p.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _aligned_crops(folder: Path, size: int) -> Iterator[tuple[Path, np.ndarray]]:
    """The largest face of each image, cut square (2.2x its box) and resized to ``size``."""
    from shared.data.images import read_rgb

    finder = YuNetDetector(score_threshold=0.8)
    for path in _image_files(folder):
        try:
            rgb = read_rgb(path)
        except Exception as err:  # an unreadable file is skipped, not fatal
            log.warning("donor folder: cannot read %s (%s)", path.name, type(err).__name__)
            continue
        face = _largest(finder.detect(rgb))
        if face is None:
            log.info("donor folder: no face in %s", path.name)
            continue
        cx, cy = face.center
        half = 1.1 * max(face.width, face.height)
        x0, y0 = round(cx - half), round(cy - half)
        side = round(2 * half)
        pad = max(0, -x0, -y0, x0 + side - rgb.shape[1], y0 + side - rgb.shape[0])
        padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else rgb
        crop = padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
        yield path, cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def build_folder_bank(folder: Path, options: BankOptions | None = None) -> DonorBank:
    """A bank of the face images in ``folder`` (one donor per image with a clear face)."""
    o = options or BankOptions()
    dets = _detectors()
    kept: list[tuple[int, Checked]] = []
    images: list[np.ndarray] = []
    for path, crop in _aligned_crops(Path(folder), o.image_size):
        checked = check_face(crop, dets, o)
        if checked is None:
            log.info("donor folder: %s did not pass the donor checks", path.name)
            continue
        kept.append((len(images), checked))
        images.append(crop)
    if not kept:
        raise ConfigError(f"no image in {folder} holds a face that passes the donor checks")
    meta = {"source": f"folder:{Path(folder).name}", "digest": folder_digest(Path(folder))}
    return _bank("images", kept, o.image_size, meta, images=np.stack(images))
