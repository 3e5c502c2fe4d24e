"""Painters: what the de-identification pipeline calls to replace the faces of a batch of frames.

``DonorPainter`` (the product): each confirmed track gets one keyed donor face, aligned per frame
on smoothed landmarks, colour- and light-matched, optionally refined by the learned public module,
and blended through a face-shaped mask; anything not confirmed as a face gets a soft blur.
``CropPainter`` (the reference and the first product release): 64x64 crops through a crop model
(public U-Net on crop + keyed noise) and a feathered square paste.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from shared.model.keyed_noise import track_noise
from shared.surrogate.composite import (
    Composite,
    CompositeOptions,
    Grain,
    blend,
    blur_cover,
    compose,
)
from shared.surrogate.donors import ChoiceOptions, Donor, DonorBank
from shared.surrogate.features import likeness, measure
from shared.surrogate.geometry import Plausibility, as_points, plausible
from shared.surrogate.refine import Refiner, refine_composites
from shared.video.crops import (
    CROP_MARGIN,
    CropGeom,
    crop_faces,
    feather_mask,
    paste_faces,
    square_geom,
)
from shared.video.types import FaceBox

log = logging.getLogger(__name__)

# Mean YuNet landmarks relative to its box (x, y in box units), for boxes that come without any.
TEMPLATE = np.array([[0.31, 0.40], [0.69, 0.40], [0.50, 0.58], [0.35, 0.78], [0.65, 0.78]])


class CropModel(Protocol):
    """A model that turns 64x64 crops + keyed noise into surrogates (UUNetEngine, noise configs)."""

    @property
    def crop_size(self) -> int: ...

    def deidentify(self, crops: torch.Tensor, noise: torch.Tensor,
                   attributes: dict[str, str] | None = None) -> torch.Tensor: ...  # fmt: skip


@dataclass(frozen=True)
class PaintEvent:
    """One painted face (recorded only when asked: evaluation counts false surrogates with it)."""

    frame: int
    track_id: int
    kind: str  # donor | blur | crop
    box: tuple[float, float, float, float]


@dataclass
class PaintStats:
    """What a painter did over a clip."""

    kinds: Counter[str] = field(default_factory=Counter)  # faces by cover: donor, blur, crop
    events: list[PaintEvent] | None = None  # per face, when recording

    def add(self, frame: int, box: FaceBox, kind: str) -> None:
        """Count one face (and record it when recording)."""
        self.kinds[kind] += 1
        if self.events is not None:
            self.events.append(PaintEvent(frame, box.track_id, kind, box.corners))


class CropPainter:
    """The crop path: public U-Net on each 64x64 crop with its track's keyed noise."""

    def __init__(self, model: CropModel, secret: bytes, clip_id: str,
                 attributes: dict[str, str] | None = None) -> None:  # fmt: skip
        self.model, self.secret, self.clip_id = model, secret, clip_id
        self.attributes = attributes or None
        self.stats = PaintStats()
        self._noise: dict[int, torch.Tensor] = {}

    def paint(self, frames: np.ndarray, indices: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        """Replace every face of ``frames`` (uint8 [B,H,W,3]) in place."""
        crops, geoms = crop_faces(frames, boxes, self.model.crop_size, CROP_MARGIN)
        if not geoms:
            return
        noise = torch.cat([self._track_noise(g.track_id) for g in geoms])  # [N,1,64,64]
        surrogates = self.model.deidentify(crops, noise, self.attributes)
        paste_faces(frames, surrogates, geoms, CROP_MARGIN)
        for pos, frame_boxes in enumerate(boxes):
            for box in frame_boxes:
                self.stats.add(int(indices[pos]), box, "crop")

    def _track_noise(self, tid: int) -> torch.Tensor:
        if tid not in self._noise:
            self._noise[tid] = track_noise(self.secret, self.clip_id, tid, self.model.crop_size)
        return self._noise[tid]


@dataclass(frozen=True)
class PainterOptions:
    """Everything the donor path can be tuned by."""

    composite: CompositeOptions = field(default_factory=CompositeOptions)
    choice: ChoiceOptions = field(default_factory=ChoiceOptions)
    bounds: Plausibility = field(default_factory=Plausibility)
    smoothing: float = 0.5  # EMA weight of a frame's own landmarks (in box units) along a track


@dataclass
class _Track:
    rel: np.ndarray | None = None  # smoothed landmarks in box units [5,2]
    confirmed: bool = False
    donor: Donor | None = None


@dataclass
class _Job:
    geom: CropGeom
    region: np.ndarray  # view into the frame
    comp: Composite


class DonorPainter:
    """The product's public module: keyed donors, aligned, matched, refined, blended."""

    def __init__(self, bank: DonorBank, secret: bytes, clip_id: str,
                 refiner: Refiner | None = None, options: PainterOptions | None = None) -> None:  # fmt: skip
        self.bank, self.secret, self.clip_id = bank, secret, clip_id
        self.refiner = refiner
        self.options = options or PainterOptions()
        self.stats = PaintStats()
        self._tracks: dict[int, _Track] = {}
        self._used: set[int] = set()
        # Grain: random per frame, yet the same clip and key always give the same output.
        seed = hmac.new(secret, f"grain/{clip_id}".encode(), hashlib.sha256).digest()
        self._grain = Grain(np.random.default_rng(int.from_bytes(seed[:8], "big")))

    def paint(self, frames: np.ndarray, indices: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        """Replace every face of ``frames`` (uint8 [B,H,W,3]) in place."""
        h, w = frames.shape[1:3]
        jobs: list[_Job] = []
        for pos, frame_boxes in enumerate(boxes):
            for box in frame_boxes:
                g = square_geom(box, pos, w, h, CROP_MARGIN)
                if g.cx1 - g.cx0 < 2 or g.cy1 - g.cy0 < 2:
                    continue
                region = frames[pos, g.cy0 : g.cy1, g.cx0 : g.cx1]
                ox, oy = g.cx0 - g.x0, g.cy0 - g.y0
                border = feather_mask(g.side, CROP_MARGIN)[
                    oy : oy + region.shape[0], ox : ox + region.shape[1], 0
                ]
                job = self._face(box, g, region, border)
                self.stats.add(int(indices[pos]), box, "blur" if job is None else "donor")
                if job is not None:
                    jobs.append(job)
        if self.refiner is not None and jobs:
            refine_composites(self.refiner, frames, [(j.geom, j.comp) for j in jobs])
        for job in jobs:
            blend(job.region, job.comp)

    def _face(self, box: FaceBox, g: CropGeom, region: np.ndarray,
              border: np.ndarray) -> _Job | None:  # fmt: skip
        """A donor job for a confirmed face; a blur cover (blended now) otherwise."""
        track = self._tracks.setdefault(box.track_id, _Track())
        points = self._points(track, box)  # frame pixels, smoothed
        if box.landmarks is not None and not track.confirmed:
            raw = as_points(box.landmarks)
            track.confirmed = plausible(raw, box.width, box.score, self.options.bounds)
        offset = np.array([g.cx0, g.cy0], dtype=np.float64)
        if not track.confirmed:
            local = (box.x0 - g.cx0, box.y0 - g.cy0, box.x1 - g.cx0, box.y1 - g.cy0)
            blend(region, blur_cover(region, local, border, self.options.composite))
            return None
        local_points = points - offset
        if track.donor is None:
            track.donor = self._pick(box.track_id, local_points, region, border, box.width)
        comp = compose(region, track.donor.image, track.donor.points, local_points, border,
                       self.options.composite, self._grain)  # fmt: skip
        return _Job(g, region, comp)

    def _points(self, track: _Track, box: FaceBox) -> np.ndarray:
        """Landmarks for this frame: the detector's (or the template's) in box units, smoothed."""
        size = np.array([max(box.width, 1.0), max(box.height, 1.0)])
        origin = np.array([box.x0, box.y0])
        if box.landmarks is not None:
            rel = (as_points(box.landmarks) - origin) / size
        else:
            rel = track.rel if track.rel is not None else TEMPLATE
        a = self.options.smoothing
        track.rel = rel if track.rel is None else a * rel + (1.0 - a) * track.rel
        return np.asarray(origin + track.rel * size, dtype=np.float64)

    def _pick(self, track_id: int, points: np.ndarray, region: np.ndarray, border: np.ndarray,
              width: float) -> Donor:  # fmt: skip
        """The track's keyed donor, matched to its pose, tone, mouth and facial hair, not given
        to another track of the clip, and of the key's first few the least like the original
        (faces at least ``compare_from`` wide)."""
        o = self.options.choice
        target = measure(region, points)
        count = o.compare if width >= o.compare_from else 1
        picks = self.bank.keyed(self.secret, self.clip_id, track_id, target,
                                frozenset(self._used), o, count)  # fmt: skip
        donors = [self.bank.donor(idx, mirrored) for idx, mirrored in picks]
        donor = donors[0]
        if len(donors) > 1:
            alike = [self._likeness(d, points, region, border) for d in donors]
            donor = donors[int(np.argmin(alike))]
        self._used.add(donor.index)
        mark = " (mirrored)" if donor.mirrored else ""
        log.debug("track %d: donor %d%s", track_id, donor.index, mark)
        return donor

    def _likeness(self, donor: Donor, points: np.ndarray, region: np.ndarray,
                  border: np.ndarray) -> float:  # fmt: skip
        """How much this donor's composite (unrefined, no grain) still looks like the region."""
        comp = compose(region, donor.image, donor.points, points, border, self.options.composite)
        trial = region.copy()
        blend(trial, comp)
        return likeness(region, trial, points)
