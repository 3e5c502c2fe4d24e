"""Write each track's codeword into the frames, one frame at a time, in place (the public side).

Per track, the cell size is chosen once from its first box; at each segment start (frame index a
multiple of ``segment``) the track's cells are re-anchored around its current box and held for the
rest of the segment. Segment ``k`` carries part ``k mod parts``: the index is the frame's index in
the clip, so every track shares one clock and a reader finds it again after a cut. Cells claimed by
two faces in one frame carry nothing (neither track can own them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared.payload import qim
from shared.payload.lattice import (
    Box,
    Cells,
    ChannelOptions,
    add_to_cells,
    cell_size,
    local,
    luma,
    project,
    region_cells,
    smooth,
)

PASSES = 2  # the second pass corrects what rounding, clipping and the blur left of the first


@dataclass(frozen=True)
class _Plan:
    """What one track writes during one segment: its cells, their bits and their dither."""

    cells: Cells
    bits: np.ndarray  # float64 [len(cells)] of 0/1
    dither: np.ndarray  # float64 [len(cells)]

    def subset(self, keep: np.ndarray) -> _Plan:
        """The plan restricted to the cells where ``keep`` is true."""
        return _Plan(self.cells.subset(keep), self.bits[keep], self.dither[keep])


@dataclass
class _Track:
    bits: np.ndarray  # uint8 [n] of 0/1: the whole codeword (~5 KB per track)
    c: int = 0
    segment: int = -1
    plan: _Plan | None = None


class PayloadEmbedder:
    """Marks faces with their track's codeword; ``mark`` is called once per frame, in order."""

    def __init__(self, options: ChannelOptions | None = None) -> None:
        self.options = options or ChannelOptions()
        self._tracks: dict[int, _Track] = {}

    def set_codeword(self, track_id: int, bits: np.ndarray) -> None:
        """The codeword bits (0/1, any int dtype) that track ``track_id`` carries from now on."""
        self._tracks[track_id] = _Track(np.asarray(bits, dtype=np.uint8))

    def has_codeword(self, track_id: int) -> bool:
        """Whether track ``track_id`` was given a codeword."""
        return track_id in self._tracks

    def mark(self, frame: np.ndarray, index: int, faces: Sequence[tuple[int, Box]]) -> None:
        """Embed into RGB uint8 ``frame`` [H,W,3] (in place), the clip's frame number ``index``."""
        segment = index // self.options.segment
        plans = []
        for track_id, box in faces:
            track = self._tracks.get(track_id)
            if track is not None:
                if track.segment != segment:
                    self._replan(track, box, segment, frame.shape)
                assert track.plan is not None
                plans.append(track.plan)
        for plan in _drop_shared(plans):
            self._embed(frame, plan)

    def _replan(self, track: _Track, box: Box, segment: int, shape: tuple[int, ...]) -> None:
        """Anchor the track's cells around its current box for a new segment."""
        o = self.options
        part = segment % o.parts
        track.c = track.c or cell_size(box[2] - box[0], o)
        cells = region_cells(box, track.c, o, shape[1], shape[0])
        bits = track.bits[qim.bit_index(cells, part, track.bits.size)].astype(np.float64)
        track.plan = _Plan(cells, bits, qim.dither(cells, np.asarray(part), o.step))
        track.segment = segment

    def _embed(self, frame: np.ndarray, plan: _Plan) -> None:
        o = self.options
        if not len(plan.cells):
            return
        window, rel = local(plan.cells)
        view = frame[window]
        for _ in range(PASSES):
            proj = project(smooth(luma(view), o.blur), rel)
            add_to_cells(view, rel, qim.targets(proj, plan.bits, plan.dither, o.step) - proj)


def _drop_shared(plans: list[_Plan]) -> list[_Plan]:
    """Remove the cells that more than one face claims in this frame (only same-size cells clash
    exactly; cells of different sizes that overlap are left to the reader's weighting)."""
    if len(plans) < 2:
        return plans
    counts: Counter[tuple[int, int]] = Counter()
    for plan in plans:
        counts.update((plan.cells.c, int(k)) for k in plan.cells.ids())
    return [
        plan.subset(np.array([counts[(plan.cells.c, int(k))] == 1 for k in plan.cells.ids()], bool))
        for plan in plans
    ]
