"""Read one track's codeword back from decoded luma planes, with or without the manifest.

The reader is given, per frame, the luma plane and a face box (the manifest's, or one re-detected
on the received clip). It projects the cells around the box for the few cell sizes the box allows,
then:

1. finds the cell size and the segment clock: for each candidate phase (the clip's frame index
   minus the received one, modulo ``segment * parts``, unknown after a cut), how close the
   projections of a sample of frames sit to the union lattice of the part that phase implies;
2. turns every projection into a soft bit under its part's dither, weights it by how reliable it
   looks (``evidence``: analytic, or a learned ``LlrModel``) and adds them up per codeword bit.

Memory stays bounded whatever the track's length: step 1 runs on the first ``lock_frames`` frames
(the other cell sizes are then dropped), and step 2 folds each finished segment into the per-bit
sums. Every observation is kept only when asked (``keep_evidence``: benchmarks, training).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.payload import evidence, qim
from shared.payload.evidence import Evidence
from shared.payload.lattice import (
    Box,
    Cells,
    ChannelOptions,
    cell_size,
    project,
    region_cells,
    smooth,
)
from shared.payload.llr_model import LlrModel

SEARCH_FRAMES = 480  # frames sampled for the cell-size and clock search (more: fewer false clocks)
NEIGHBOUR_SIZES = 2  # also try this many allowed cell sizes on each side of the nominal one


@dataclass(frozen=True)
class SoftBits:
    """Soft codeword of one track: sums of weighted soft bits (> 0 means 1) and their counts."""

    llr: np.ndarray  # float64 [n]
    hits: np.ndarray  # int64 [n]: observations (0: the bit was never shown to the reader)
    cell: int  # cell size found (px)
    phase: int  # clip frame index = received index + phase (modulo segment * parts)
    score: float  # mean latticeness at that phase: about 0 unmarked, 0.3-0.6 marked
    evidence: Evidence | None = None  # every observation (cell x frame), when kept
    weight: np.ndarray | None = None  # float64 [m]: each observation's weight in ``llr``
    frames: int = 0  # frames observed
    contrast: float = 0.0  # how far the chosen clock stands out of all clocks (standard deviations)


@dataclass(frozen=True)
class _Obs:
    index: int
    cells: Cells
    proj: np.ndarray


@dataclass(frozen=True)
class _Lock:
    c: int
    phase: int
    score: float
    contrast: float


class TrackReader:
    """Collects one received track frame by frame (``observe``), then ``read`` gives its soft bits.

    Frames must come in increasing index order.
    """

    def __init__(self, n_bits: int, options: ChannelOptions | None = None,
                 model: LlrModel | None = None, keep_evidence: bool = True,
                 lock_frames: int = SEARCH_FRAMES) -> None:  # fmt: skip
        self.n_bits = n_bits
        self.options = options or ChannelOptions()
        self.model = model  # None: the analytic weighting of ``evidence``
        self.keep_evidence = keep_evidence
        self.lock_frames = lock_frames
        self._obs: dict[int, list[_Obs]] = {}  # before the lock: every candidate size
        self._lock: _Lock | None = None
        self._pending: list[_Obs] = []  # after the lock: the current segment's observations
        self._llr = np.zeros(n_bits)
        self._hits = np.zeros(n_bits, dtype=np.int64)
        self._kept: list[tuple[Evidence, np.ndarray]] = []
        self._frames = 0

    def observe(self, y: np.ndarray, index: int, box: Box) -> None:
        """Luma plane [H,W] (limited range, as decoded) of received frame ``index``, face ``box``."""
        h, w = y.shape
        y = smooth(y, self.options.blur)
        self._frames += 1
        if self._lock is not None:
            cells = region_cells(box, self._lock.c, self.options, w, h)
            if len(cells):
                self._add(_Obs(index, cells, project(y, cells)))
            return
        for c in self._candidates(box[2] - box[0]):
            cells = region_cells(box, c, self.options, w, h)
            if len(cells):
                self._obs.setdefault(c, []).append(_Obs(index, cells, project(y, cells)))
        if self._frames >= self.lock_frames:
            self._choose()

    def _candidates(self, box_width: float) -> list[int]:
        sizes = list(self.options.cell_sizes)
        k = sizes.index(cell_size(box_width, self.options))
        return sizes[max(0, k - NEIGHBOUR_SIZES) : k + NEIGHBOUR_SIZES + 1]

    def read(self) -> SoftBits | None:
        """The soft codeword at the best cell size and clock; None when nothing was observed."""
        if self._lock is None:
            self._choose()
        if self._lock is None:
            return None
        self._fold(self._pending)
        self._pending = []
        lock = self._lock
        ev, weight = None, None
        if self.keep_evidence and self._kept:
            ev = Evidence(*(np.concatenate([getattr(e, k) for e, _ in self._kept])
                            for k in ("bit", "soft", "features")))  # fmt: skip
            weight = np.concatenate([w for _, w in self._kept])
        return SoftBits(self._llr.copy(), self._hits.copy(), lock.c, lock.phase, lock.score, ev,
                        weight, self._frames, lock.contrast)  # fmt: skip

    def _choose(self) -> None:
        """Lock the cell size and clock, then fold what was collected at that size.

        Cell sizes compete on evidence (mean latticeness at their best clock times the number of
        cell observations), so a size seen in a handful of frames cannot win on a lucky clock.
        """
        best: tuple[float, int, int, float, float] | None = None
        for c, obs in self._obs.items():
            phase, score, contrast = self._clock(obs)
            strength = score * sum(len(ob.cells) for ob in obs)
            if best is None or strength > best[0]:
                best = (strength, c, phase, score, contrast)
        if best is None:
            return
        _, c, phase, score, contrast = best
        chosen = self._obs[c]
        self._obs = {}
        self._lock = _Lock(c, phase, score, contrast)
        for ob in chosen:
            self._add(ob)

    def _segment(self, index: int) -> int:
        assert self._lock is not None
        return (index + self._lock.phase) // self.options.segment

    def _add(self, ob: _Obs) -> None:
        """Queue an observation; a new segment folds the previous one into the sums."""
        if self._pending and self._segment(self._pending[0].index) != self._segment(ob.index):
            self._fold(self._pending)
            self._pending = []
        self._pending.append(ob)

    def _part(self, index: np.ndarray | int, phase: int) -> np.ndarray:
        o = self.options
        return np.asarray(((np.asarray(index) + phase) // o.segment) % o.parts)

    def _clock(self, obs: list[_Obs]) -> tuple[int, float, float]:
        """Best phase in [0, segment * parts), its mean latticeness over sampled frames, and its
        contrast: how many standard deviations it stands above the median of all phases (the best
        of ~2,000 chance clocks stands ~3 above it; a mark's own clock, 10 and more)."""
        o = self.options
        pick = np.unique(np.linspace(0, len(obs) - 1, min(len(obs), SEARCH_FRAMES)).astype(int))
        parts = np.arange(o.parts)[:, None]

        # Per cell size, the last frame's cells and their dither: a still face keeps its cells.
        last: dict[int, tuple[bytes, np.ndarray]] = {}

        def per_part(ob: _Obs) -> np.ndarray:  # mean latticeness of one frame under every part
            key = ob.cells.ii.tobytes() + ob.cells.jj.tobytes()
            seen = last.get(ob.cells.c)
            if seen is not None and seen[0] == key:
                dith = seen[1]
            else:  # float32: [parts, cells]
                dith = qim.dither(ob.cells, parts, o.step, np.float32)
                last[ob.cells.c] = (key, dith)
            return qim.latticeness(ob.proj.astype(np.float32), dith, o.step).mean(
                1, dtype=np.float64
            )

        lat = np.stack([per_part(obs[k]) for k in pick])  # [F, parts]
        index = np.array([obs[k].index for k in pick])
        phases = np.arange(o.segment * o.parts)
        which = self._part(index[None, :] + phases[:, None], 0)  # [phases, F]
        scores = lat[np.arange(len(pick))[None, :], which].mean(1)  # [phases]
        phase = int(np.argmax(scores))
        contrast = (scores[phase] - np.median(scores)) / max(float(scores.std()), 1e-9)
        return phase, float(scores[phase]), float(contrast)

    def _fold(self, obs: list[_Obs]) -> None:
        """Add the weighted soft bits of whole segments' observations to the per-bit sums (cell
        and frame features group within a segment, so folding segment by segment is exact)."""
        if not obs:
            return
        assert self._lock is not None
        o, phase = self.options, self._lock.phase
        soft, lat, bit, group, frame, position = [], [], [], [], [], []
        for f, ob in enumerate(obs):
            part = int(self._part(ob.index, phase))
            dith = qim.dither(ob.cells, np.asarray(part), o.step)
            soft.append(qim.soft(ob.proj, dith, o.step))
            lat.append(qim.latticeness(ob.proj, dith, o.step))
            bit.append(qim.bit_index(ob.cells, part, self.n_bits))
            segment, offset = divmod(ob.index + phase, o.segment)
            group.append(segment * 2**40 + ob.cells.ids())
            frame.append(np.full(len(ob.cells), f))
            position.append(np.full(len(ob.cells), offset / o.segment))
        ev = evidence.gather(*(np.concatenate(v) for v in (soft, lat, bit, group, frame, position)))
        if self.model is None:
            weight = evidence.analytic_weight(ev.features)
        else:
            weight = self.model.weight(ev.features)
        self._llr += np.bincount(ev.bit, weights=weight * ev.soft, minlength=self.n_bits)
        self._hits += np.bincount(ev.bit, minlength=self.n_bits)
        if self.keep_evidence:
            self._kept.append((ev, weight))
