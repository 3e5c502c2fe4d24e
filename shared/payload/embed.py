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

PASSES = 3  # later passes correct what rounding, clipping and the blur left of the first


@dataclass
class _Track:
    bits: np.ndarray  # float64 [n] of 0/1
    c: int = 0
    segment: int = -1
    cells: Cells | None = None


class PayloadEmbedder:
    """Marks faces with their track's codeword; ``mark`` is called once per frame, in order."""

    def __init__(self, options: ChannelOptions | None = None) -> None:
        self.options = options or ChannelOptions()
        self._tracks: dict[int, _Track] = {}

    def set_codeword(self, track_id: int, bits: np.ndarray) -> None:
        """The codeword bits (0/1, any int dtype) that track ``track_id`` carries from now on."""
        self._tracks[track_id] = _Track(np.asarray(bits, dtype=np.float64))

    def has_track(self, track_id: int) -> bool:
        """Whether a codeword was set for this track."""
        return track_id in self._tracks

    def mark(self, frame: np.ndarray, index: int, faces: Sequence[tuple[int, Box]]) -> None:
        """Embed into RGB uint8 ``frame`` [H,W,3] (in place), the clip's frame number ``index``."""
        o = self.options
        segment = index // o.segment
        part = segment % o.parts
        h, w = frame.shape[:2]
        claimed: list[tuple[_Track, Cells]] = []
        for track_id, box in faces:
            track = self._tracks.get(track_id)
            if track is None:
                continue
            if track.segment != segment:
                track.c = track.c or cell_size(box[2] - box[0], o)
                track.cells = region_cells(box, track.c, o.region, w, h)
                track.segment = segment
            assert track.cells is not None
            claimed.append((track, track.cells))
        for track, cells in _drop_shared(claimed):
            self._embed(frame, track, cells, part)

    def _embed(self, frame: np.ndarray, track: _Track, cells: Cells, part: int) -> None:
        o = self.options
        if not len(cells):
            return
        n = track.bits.size
        bits = track.bits[qim.bit_index(cells, part, n)]
        dith = qim.dither(cells, np.asarray(part), o.step)
        window, rel = local(cells)
        view = frame[window]
        for _ in range(PASSES):
            proj = project(smooth(luma(view), o.blur), rel)
            add_to_cells(view, rel, qim.targets(proj, bits, dith, o.step) - proj)


def _drop_shared(claimed: list[tuple[_Track, Cells]]) -> list[tuple[_Track, Cells]]:
    """Remove the cells that more than one face claims in this frame (only same-size cells clash
    exactly; cells of different sizes that overlap are left to the reader's weighting)."""
    if len(claimed) < 2:
        return claimed
    counts: Counter[tuple[int, int]] = Counter()
    for _, cells in claimed:
        counts.update((cells.c, int(k)) for k in cells.ids())
    out = []
    for track, cells in claimed:
        keep = np.array([counts[(cells.c, int(k))] == 1 for k in cells.ids()], dtype=bool)
        out.append((track, cells.subset(keep)))
    return out
