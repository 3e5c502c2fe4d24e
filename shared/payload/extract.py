"""Read one track's codeword back from decoded luma planes, with or without the manifest.

The reader is given, per frame, the luma plane and a face box (the manifest's, or one re-detected
on the received clip). It projects the cells around the box for the few cell sizes the box allows,
then, once the track is complete:

1. finds the cell size and the segment clock: for each candidate phase (the clip's frame index
   minus the received one, modulo ``segment * parts``, unknown after a cut), how close the
   projections of a sample of frames sit to the union lattice of the part that phase implies;
2. turns every projection into a soft bit under its part's dither, weights it by how reliable it
   looks (``evidence``: analytic, or a learned ``LlrModel``) and adds them up per codeword bit.
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
    evidence: Evidence  # every single observation (cell x frame): bit, soft value, features
    weight: np.ndarray  # float64 [m]: each observation's weight in ``llr``


@dataclass(frozen=True)
class _Obs:
    index: int
    cells: Cells
    proj: np.ndarray


class TrackReader:
    """Collects one received track frame by frame (``observe``), then ``read`` gives its soft bits."""

    def __init__(self, n_bits: int, options: ChannelOptions | None = None,
                 model: LlrModel | None = None) -> None:  # fmt: skip
        self.n_bits = n_bits
        self.options = options or ChannelOptions()
        self.model = model  # None: the analytic weighting of ``evidence``
        self._obs: dict[int, list[_Obs]] = {}

    def observe(self, y: np.ndarray, index: int, box: Box) -> None:
        """Luma plane [H,W] (limited range, as decoded) of received frame ``index``, face ``box``."""
        h, w = y.shape
        y = smooth(y, self.options.blur)
        for c in self._candidates(box[2] - box[0]):
            cells = region_cells(box, c, self.options, w, h)
            if len(cells):
                self._obs.setdefault(c, []).append(_Obs(index, cells, project(y, cells)))

    def _candidates(self, box_width: float) -> list[int]:
        sizes = list(self.options.cell_sizes)
        k = sizes.index(cell_size(box_width, self.options))
        return sizes[max(0, k - NEIGHBOUR_SIZES) : k + NEIGHBOUR_SIZES + 1]

    def read(self) -> SoftBits | None:
        """The soft codeword at the best cell size and clock; None when nothing was observed.

        Cell sizes compete on evidence (mean latticeness at their best clock times the number of
        cell observations), so a size seen in a handful of frames cannot win on a lucky clock.
        """
        best: tuple[float, int, int, float] | None = None
        for c, obs in self._obs.items():
            phase, score = self._clock(obs)
            strength = score * sum(len(ob.cells) for ob in obs)
            if best is None or strength > best[0]:
                best = (strength, c, phase, score)
        if best is None:
            return None
        _, c, phase, score = best
        return self._accumulate(self._obs[c], c, phase, score)

    def _part(self, index: np.ndarray | int, phase: int) -> np.ndarray:
        o = self.options
        return np.asarray(((np.asarray(index) + phase) // o.segment) % o.parts)

    def _clock(self, obs: list[_Obs]) -> tuple[int, float]:
        """Best phase in [0, segment * parts) and its mean latticeness over sampled frames."""
        o = self.options
        pick = np.unique(np.linspace(0, len(obs) - 1, min(len(obs), SEARCH_FRAMES)).astype(int))
        parts = np.arange(o.parts)[:, None]

        def per_part(ob: _Obs) -> np.ndarray:  # mean latticeness of one frame under every part
            return qim.latticeness(ob.proj, qim.dither(ob.cells, parts, o.step), o.step).mean(1)

        lat = np.stack([per_part(obs[k]) for k in pick])  # [F, parts]
        index = np.array([obs[k].index for k in pick])
        phases = np.arange(o.segment * o.parts)
        which = self._part(index[None, :] + phases[:, None], 0)  # [phases, F]
        scores = lat[np.arange(len(pick))[None, :], which].mean(1)  # [phases]
        phase = int(np.argmax(scores))
        return phase, float(scores[phase])

    def _accumulate(self, obs: list[_Obs], c: int, phase: int, score: float) -> SoftBits:
        o = self.options
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
        llr = np.bincount(ev.bit, weights=weight * ev.soft, minlength=self.n_bits)
        hits = np.bincount(ev.bit, minlength=self.n_bits)
        return SoftBits(llr, hits.astype(np.int64), c, phase, score, ev, weight)
