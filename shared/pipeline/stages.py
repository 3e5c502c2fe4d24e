"""Helpers shared by de-identification and restoration: box quantisation, keyed noise, temp output.

``CROP_MARGIN`` is re-exported: the painted squares and the sealed regions are the same squares.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from shared.domain.errors import ConfigError
from shared.model.keyed_noise import track_noise
from shared.pipeline.manifest import FaceRecord
from shared.video.crops import CROP_MARGIN, CropGeom, square_geom
from shared.video.types import FaceBox

log = logging.getLogger(__name__)


__all__ = ["CROP_MARGIN", "NoiseBank", "from_record", "quantise", "same_file", "square_geoms",
           "temp_output", "to_record"]  # fmt: skip


def quantise(box: FaceBox, width: int, height: int) -> FaceBox | None:
    """Integer-pixel copy of ``box`` clipped to the frame, or None if too small to crop.

    The manifest stores exactly these integers, so restoration rebuilds the same crop squares.
    """
    x0, y0 = max(0, round(box.x0)), max(0, round(box.y0))
    x1, y1 = min(width, round(box.x1)), min(height, round(box.y1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    q = replace(box, x0=float(x0), y0=float(y0), x1=float(x1), y1=float(y1))  # keeps landmarks
    g = square_geom(q, 0, width, height, CROP_MARGIN)
    if g.cx1 - g.cx0 < 2 or g.cy1 - g.cy0 < 2:
        return None
    return q


def square_geoms(boxes: list[list[FaceBox]], width: int, height: int) -> list[CropGeom]:
    """The crop square of every (quantised) box, frame by frame: the regions a painter may change."""
    return [
        square_geom(box, pos, width, height, CROP_MARGIN)
        for pos, frame_boxes in enumerate(boxes)
        for box in frame_boxes
    ]


def to_record(frame: int, box: FaceBox) -> FaceRecord:
    """The manifest's record of a quantised box."""
    x0, y0 = int(box.x0), int(box.y0)
    return FaceRecord(frame, int(box.track_id), x0, y0, int(box.x1) - x0, int(box.y1) - y0)


def from_record(rec: FaceRecord) -> FaceBox:
    """The box a manifest record stands for (inverse of :func:`to_record`)."""
    return FaceBox(
        float(rec.x), float(rec.y), float(rec.x + rec.w), float(rec.y + rec.h), 1.0, rec.track_id
    )


class NoiseBank:
    """Keyed noise per track (one surrogate identity per track), cached for the clip."""

    def __init__(self, secret: bytes, clip_id: str, size: int) -> None:
        self._secret, self._clip_id, self._size = secret, clip_id, size
        self._cache: dict[int, torch.Tensor] = {}

    def for_tracks(self, track_ids: Sequence[int]) -> torch.Tensor:
        """[N,1,size,size] float32 noise, row i for ``track_ids[i]``."""
        rows = []
        for tid in track_ids:
            if tid not in self._cache:
                self._cache[tid] = track_noise(self._secret, self._clip_id, tid, self._size)
            rows.append(self._cache[tid])
        if not rows:
            return torch.zeros(0, 1, self._size, self._size)
        return torch.cat(rows)


@contextlib.contextmanager
def temp_output(dst: Path, public: bool = False) -> Iterator[Path]:
    """A temporary file beside ``dst`` that replaces it on success and vanishes on failure.

    Mode 0600 (restored faces are evidence) unless ``public``: a clip meant for publishing gets
    the user's umask, like any file they create.
    """
    dst = Path(dst)
    if dst.is_dir():
        raise ConfigError(f"output {dst} is a directory")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_beside(dst, 0o666 if public else 0o600)
    except OSError as err:
        raise ConfigError(f"cannot write to {dst.parent}: {err.strerror}") from err
    try:
        yield tmp
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _create_beside(dst: Path, mode: int) -> Path:
    """A new empty file ``.NAME.<random>.part`` beside ``dst``, created with ``mode`` & ~umask."""
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(8)}.part")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    return tmp


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (refuse writing the output over the input)."""
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a whole file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
