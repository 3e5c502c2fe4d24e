"""Crop and paste stages: faces out to 64x64 model crops, surrogates back with a feathered seam."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
import torch

from shared.video.types import FaceBox

CROP_MARGIN = 0.25  # context around the face box in a crop square (painted and sealed regions)


@dataclass(frozen=True)
class CropGeom:
    """Where one crop came from: a square (may overhang the frame) and its in-frame part."""

    pos: int  # position of the frame inside the batch
    track_id: int
    x0: int  # square crop, frame pixels; may be negative / past the edge
    y0: int
    side: int
    cx0: int  # the square clipped to the frame: region that paste writes back
    cy0: int
    cx1: int
    cy1: int

    def to_dict(self) -> dict[str, int]:
        """JSON-able form (for sealed payload headers)."""
        return {k: int(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropGeom:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: int(data[k]) for k in cls.__dataclass_fields__})


def square_geom(box: FaceBox, pos: int, width: int, height: int, margin: float) -> CropGeom:
    """Square around the box centre, side = longest box side * (1 + 2*margin), clipped copy too."""
    cx, cy = box.center
    side = max(4, round(max(box.width, box.height) * (1.0 + 2.0 * margin)))
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    cx0, cy0 = min(max(x0, 0), width), min(max(y0, 0), height)
    cx1, cy1 = min(max(x0 + side, 0), width), min(max(y0 + side, 0), height)
    return CropGeom(pos, box.track_id, x0, y0, side, cx0, cy0, cx1, cy1)


def _square_pixels(frame: np.ndarray, g: CropGeom) -> np.ndarray:
    """The square region [side,side,3], edge-replicated where it overhangs the frame."""
    region = frame[g.cy0 : g.cy1, g.cx0 : g.cx1]
    pad = ((g.cy0 - g.y0, g.y0 + g.side - g.cy1), (g.cx0 - g.x0, g.x0 + g.side - g.cx1), (0, 0))
    if any(p for pair in pad[:2] for p in pair):
        region = np.pad(region, pad, mode="edge")
    return region


def crop_faces(
    frames: np.ndarray, boxes_per_frame: list[list[FaceBox]], size: int = 64, margin: float = 0.25
) -> tuple[torch.Tensor, list[CropGeom]]:
    """Frames uint8 [B,H,W,3] + boxes -> crops float32 [N,3,size,size] in [0,1] and their geoms."""
    h, w = frames.shape[1:3]
    geoms = [
        square_geom(box, pos, w, h, margin)
        for pos, boxes in enumerate(boxes_per_frame)
        for box in boxes
        if box.width >= 2 and box.height >= 2
    ]
    geoms = [g for g in geoms if g.cx1 - g.cx0 >= 2 and g.cy1 - g.cy0 >= 2]
    return crop_squares(frames, geoms, size), geoms


def crop_squares(frames: np.ndarray, geoms: list[CropGeom], size: int = 64) -> torch.Tensor:
    """The squares of ``geoms`` cut from frames uint8 [B,H,W,3] -> float32 [N,3,size,size] in [0,1]."""
    out = np.empty((len(geoms), size, size, 3), dtype=np.uint8)
    for i, g in enumerate(geoms):
        sq = _square_pixels(frames[g.pos], g)
        interp = cv2.INTER_AREA if g.side > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(sq, (size, size), interpolation=interp)
    crops = torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)  # [N,3,size,size]
    return crops.contiguous()


@lru_cache(maxsize=512)
def feather_mask(side: int, margin: float = 0.25) -> np.ndarray:
    """float32 [side,side,1]: 1 over the face box, a cosine ramp to 0 across the margin."""
    inner = 0.5 / (1.0 + 2.0 * margin)  # half-size of the face box, in crop units
    t = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5  # -0.5..0.5
    d = np.abs(t)
    ramp = np.clip((0.5 - d) / max(0.5 - inner, 1e-6), 0.0, 1.0)  # 0 at border, 1 at the box
    ramp = 0.5 - 0.5 * np.cos(np.pi * ramp)
    return np.ascontiguousarray(np.minimum.outer(ramp, ramp)[:, :, None])


def _to_uint8_hwc(crops: torch.Tensor) -> np.ndarray:
    """float [N,3,S,S] in [0,1] (any device) -> uint8 [N,S,S,3] on the CPU."""
    arr = crops.detach().clamp(0, 1).mul(255.0).round_().to(torch.uint8)
    return np.ascontiguousarray(arr.permute(0, 2, 3, 1).cpu().numpy())


def paste_faces(
    frames: np.ndarray, new_crops: torch.Tensor, geoms: list[CropGeom], margin: float = 0.25
) -> np.ndarray:
    """Resize crops back to their squares and blend them in place with a feathered mask."""
    faces = _to_uint8_hwc(new_crops)
    for face, g in zip(faces, geoms, strict=True):
        big = cv2.resize(face, (g.side, g.side), interpolation=cv2.INTER_LINEAR)
        ox, oy = g.cx0 - g.x0, g.cy0 - g.y0
        sub = (slice(oy, oy + g.cy1 - g.cy0), slice(ox, ox + g.cx1 - g.cx0))
        mask = feather_mask(g.side, margin)[sub]
        dst = frames[g.pos, g.cy0 : g.cy1, g.cx0 : g.cx1]
        blend = dst.astype(np.float32)
        blend += (big[sub].astype(np.float32) - blend) * mask
        dst[...] = np.clip(blend + 0.5, 0, 255).astype(np.uint8)
    return frames


def extract_regions(frame: np.ndarray, geoms: list[CropGeom]) -> list[np.ndarray]:
    """Original full-resolution pixels of each geom's in-frame region (uint8 [h,w,3] copies)."""
    return [frame[g.cy0 : g.cy1, g.cx0 : g.cx1].copy() for g in geoms]


def paste_regions(
    frame: np.ndarray, regions: list[np.ndarray], geoms: list[CropGeom]
) -> np.ndarray:
    """Write regions back exactly (no blend), in place; inverse of :func:`extract_regions`."""
    for region, g in zip(regions, geoms, strict=True):
        frame[g.cy0 : g.cy1, g.cx0 : g.cx1] = region
    return frame
