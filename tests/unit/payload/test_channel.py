"""The watermark channel without a codec: lattice geometry, dither modulation, embed and read back."""

from __future__ import annotations

import numpy as np

from shared.payload import qim
from shared.payload.embed import PayloadEmbedder
from shared.payload.extract import TrackReader
from shared.payload.lattice import (
    Cells,
    ChannelOptions,
    add_to_cells,
    cell_size,
    luma,
    project,
    region_cells,
)
from tests.unit.payload.conftest import box_at


def test_region_cells_stay_inside_the_frame_and_around_the_box() -> None:
    opts = ChannelOptions(region=1.6)
    cells = region_cells((100.0, 50.0, 200.0, 170.0), 10, opts, 256, 192)
    assert len(cells) > 0
    assert cells.ii.min() >= 0 and (cells.ii.max() + 1) * 10 <= 256
    assert cells.jj.min() >= 0 and (cells.jj.max() + 1) * 10 <= 192
    centres = (cells.ii + 0.5) * 10, (cells.jj + 0.5) * 10
    assert np.all(np.abs(centres[0] - 150) <= 80) and np.all(np.abs(centres[1] - 110) <= 96)
    wide = region_cells(
        (100.0, 50.0, 200.0, 170.0), 10, ChannelOptions(region=1.6, min_span=22), 256, 192
    )
    assert len(np.unique(wide.ii)) >= 18 and len(wide) > len(cells)


def test_cell_size_follows_the_face_and_stays_on_the_ladder() -> None:
    opts = ChannelOptions()
    assert cell_size(40, opts) == opts.cell_sizes[0]
    assert cell_size(10_000, opts) == opts.cell_sizes[-1]
    assert cell_size(200, opts) in opts.cell_sizes and cell_size(100, opts) < cell_size(200, opts)


def test_adding_to_cells_moves_their_projection_by_that_much(clip48: np.ndarray) -> None:
    frame = clip48[0].copy()
    cells = Cells(12, np.array([3, 4, 7]), np.array([2, 2, 5]))
    before = project(luma(frame), cells)
    add_to_cells(frame, cells, np.array([5.0, -3.0, 8.0]))
    moved = project(luma(frame), cells) - before
    assert np.allclose(moved, [5.0, -3.0, 8.0], atol=0.3)
    untouched = Cells(12, np.array([5]), np.array([2]))
    assert np.allclose(project(luma(frame), untouched), project(luma(clip48[0]), untouched))


def test_dither_modulation_reads_back_every_bit_it_wrote() -> None:
    rng = np.random.default_rng(0)
    cells = Cells(16, np.arange(50), np.zeros(50, np.int64))
    proj = rng.uniform(16, 235, 50)
    bits = rng.integers(0, 2, 50).astype(float)
    dith = qim.dither(cells, np.asarray(3), 16.0)
    assert np.all((dith >= 0) & (dith < 16.0))
    target = qim.targets(proj, bits, dith, 16.0)
    assert np.all(np.abs(target - proj) <= 8.0 + 1e-9)
    assert np.array_equal(qim.soft(target, dith, 16.0) > 0, bits > 0)
    assert np.allclose(qim.latticeness(target, dith, 16.0), 1.0)
    assert abs(qim.latticeness(proj, dith, 16.0).mean()) < 0.3  # unmarked: no lattice


def test_a_row_of_cells_carries_consecutive_bits() -> None:
    cells = Cells(16, np.arange(5, 12), np.full(7, 3))
    index = qim.bit_index(cells, part=9, n_bits=4096)
    assert np.all(np.diff(index) == 1) and index.min() >= 0 and index.max() < 4096


def _embed(clip: np.ndarray, bits: np.ndarray, opts: ChannelOptions, start: int = 0) -> np.ndarray:
    embedder = PayloadEmbedder(opts)
    embedder.set_codeword(5, bits)
    out = clip.copy()
    for k, frame in enumerate(out):
        embedder.mark(frame, start + k, [(5, box_at(k)), (6, (0.0, 0.0, 20.0, 20.0))])
    return out


def _read(frames: np.ndarray, n_bits: int, opts: ChannelOptions, first: int = 0) -> np.ndarray:
    reader = TrackReader(n_bits, opts)
    for k, frame in enumerate(frames):
        reader.observe(luma(frame), k, box_at(first + k))
    soft = reader.read()
    assert soft is not None
    return soft.llr


def test_marked_frames_read_back_without_a_codec(clip48: np.ndarray) -> None:
    opts = ChannelOptions()
    bits = np.random.default_rng(1).integers(0, 2, 600)
    marked = _embed(clip48, bits, opts)
    diff = np.abs(marked.astype(int) - clip48.astype(int))
    assert diff.max() <= 16 and diff.mean() < 1.5  # small, bounded changes (clipping costs more)
    llr = _read(marked, bits.size, opts)
    seen = llr != 0
    assert seen.mean() > 0.5
    assert np.array_equal(llr[seen] > 0, bits[seen] > 0)


def test_the_reader_finds_the_segment_clock_after_a_cut(clip48: np.ndarray) -> None:
    opts = ChannelOptions()
    bits = np.random.default_rng(2).integers(0, 2, 600)
    marked = _embed(clip48, bits, opts, start=1000)  # the clip's frame numbers start at 1000
    reader = TrackReader(bits.size, opts)
    for k, frame in enumerate(marked[13:]):  # received clip starts 13 frames later
        reader.observe(luma(frame), k, box_at(13 + k))
    soft = reader.read()
    assert soft is not None
    assert soft.phase == (1000 + 13) % (opts.segment * opts.parts)
    seen = soft.llr != 0
    assert np.array_equal(soft.llr[seen] > 0, bits[seen] > 0)


def test_unmarked_frames_give_no_lattice(clip48: np.ndarray) -> None:
    reader = TrackReader(600, ChannelOptions())
    for k, frame in enumerate(clip48):
        reader.observe(luma(frame), k, box_at(k))
    soft = reader.read()
    assert soft is not None and soft.score < 0.1
