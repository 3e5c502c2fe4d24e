"""Sealed face regions: face boxes round trip bit-exactly (native 4:2:0 samples and the RGB
fallback) and the margins around them closely, boxes stay exact where squares overlap, tracks are
decoded only when chosen, the previous format (exact whole squares) still opens, and the sealing
thread hands its errors back without hanging."""

from __future__ import annotations

import io
import struct
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.crypto.seal import SealWriter, open_stream
from shared.domain.errors import TamperedError
from shared.pipeline.region_reader import RegionReader, paste_record
from shared.pipeline.seal_sink import BackgroundRegions
from shared.pipeline.sealed_payload import MAGIC, RecordWriter
from shared.pipeline.sealed_regions import IDLE_FRAMES, SBEG, SEG_ID, SREG, RegionSealer
from shared.pipeline.stages import CROP_MARGIN
from shared.pipeline.track_codec import (
    YUV420,
    ColourTags,
    SegmentEncoder,
    canvas_for,
    rct_forward,
    rct_inverse,
    yuv420_to_rgb,
)
from shared.video.crops import CropGeom, square_geom
from shared.video.decode import iter_frames
from shared.video.planes import NativeFrames
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.types import FaceBox

AUTHORITY = X25519PrivateKey.generate()
Write = tuple[int, CropGeom, FaceBox]


def _seal(write: Any) -> io.BytesIO:
    """Run ``write(records)`` into an in-memory seal; returns the sealed bytes to read."""
    out = io.BytesIO()
    sealer = SealWriter(AUTHORITY.public_key(), out)
    write(RecordWriter(sealer))
    sealer.close()
    return io.BytesIO(out.getvalue())


def _face(
    track: int, x: int, y: int, size: int, w: int = 96, h: int = 72
) -> tuple[CropGeom, FaceBox]:
    box = FaceBox(float(x), float(y), float(x + size), float(y + size), 1.0, track)
    return square_geom(box, 0, w, h, CROP_MARGIN), box


def _seal_all(frames: np.ndarray, writes: list[Write], native: NativeFrames | None) -> io.BytesIO:
    def write(records: RecordWriter) -> None:
        sealer = RegionSealer(records, native)
        for f, g, box in writes:
            sealer.write(f, g, box, frames[f, g.cy0 : g.cy1, g.cx0 : g.cx1])
        sealer.close()
        assert sealer.count == len(writes)
        assert sealer.rgb_fallbacks == (len(writes) if native is None else 0)

    return _seal(write)


def _restore(sealed: io.BytesIO, tracks: set[int], frames: np.ndarray) -> tuple[np.ndarray, int]:
    """Grey frames with every sealed region pasted back in the reader's order; and mismatches."""
    reader = RegionReader(open_stream(sealed, AUTHORITY), frozenset(tracks))
    back = np.full_like(frames, 128)
    for f in range(len(frames)):
        for rec in reader.for_frame(f):
            paste_record(back[f], rec)
    return back, reader.mismatches


def _check(
    frames: np.ndarray, back: np.ndarray, writes: list[Write], min_psnr: float | None
) -> None:
    """Every box identical; the margins (squares outside their boxes) above ``min_psnr`` dB."""
    err = []
    for f, g, box in writes:
        b = (f, slice(int(box.y0), int(box.y1)), slice(int(box.x0), int(box.x1)))
        assert np.array_equal(back[b], frames[b])
        margin = np.ones((g.cy1 - g.cy0, g.cx1 - g.cx0), bool)
        margin[
            int(box.y0) - g.cy0 : int(box.y1) - g.cy0, int(box.x0) - g.cx0 : int(box.x1) - g.cx0
        ] = 0
        sq = (f, slice(g.cy0, g.cy1), slice(g.cx0, g.cx1))
        err.append(((back[sq].astype(np.float64) - frames[sq]) ** 2)[margin].ravel())
    mse = float(np.mean(np.concatenate(err)))
    assert min_psnr is None or 10 * np.log10(255**2 / max(mse, 1e-9)) > min_psnr


def _clip(tmp_path: Path, frames: int = 8) -> tuple[np.ndarray, NativeFrames]:
    clip = tmp_path / "c.mp4"
    write_clip(clip, SceneSpec(96, 72, frames=frames, n_faces=1, face_px=(24, 28), seed=3))
    return np.concatenate([b.frames for b in iter_frames(clip)]), NativeFrames(clip, 96, 72)


def test_reversible_colour_transform_is_exact_on_every_value() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    rgb[0, :4] = [[0, 255, 0], [255, 0, 255], [0, 0, 0], [255, 255, 255]]  # the wrap-around ends
    assert np.array_equal(rct_inverse(rct_forward(rgb)), rgb)


@pytest.mark.parametrize("tags", [ColourTags(), ColourTags(1, 1), ColourTags(5, 2)])
def test_a_block_converts_to_exactly_the_whole_frames_pixels(tags: ColourTags) -> None:
    """The property exact 4:2:0 boxes rest on: even blocks convert as their part of the frame."""
    rng = np.random.default_rng(6)
    h, w = 144, 176
    planes = [rng.integers(16, 236, size=s, dtype=np.uint8) for s in ((h, w), (h // 2, w // 2))]
    planes.append(rng.integers(16, 240, size=(h // 2, w // 2), dtype=np.uint8))
    packed = np.concatenate([planes[0].ravel(), planes[1].ravel(), planes[2].ravel()])
    frame = av.VideoFrame.from_ndarray(packed.reshape(h * 3 // 2, w), format="yuv420p")
    frame.colorspace, frame.color_range = tags.colorspace, tags.color_range
    whole = frame.to_ndarray(format="rgb24")  # as the decoder converts whole frames
    for _ in range(40):
        bh, bw = (2 * int(v) for v in rng.integers(4, 40, size=2))
        y0, x0 = (
            2 * int(v) for v in (rng.integers(0, (h - bh) // 2), rng.integers(0, (w - bw) // 2))
        )
        block = (planes[0][y0 : y0 + bh, x0 : x0 + bw],
                 *(c[y0 // 2 : (y0 + bh) // 2, x0 // 2 : (x0 + bw) // 2] for c in planes[1:]))  # fmt: skip
        assert np.array_equal(yuv420_to_rgb(block, tags), whole[y0 : y0 + bh, x0 : x0 + bw])  # type: ignore[arg-type]


def test_native_420_boxes_are_exact_and_margins_close(tmp_path: Path) -> None:
    frames, native = _clip(tmp_path)
    writes = [(f, *_face(7, 31 + f, 17, 23)) for f in range(len(frames))]  # odd corners
    back, mismatches = _restore(_seal_all(frames, writes, native), {7}, frames)
    native.close()
    _check(frames, back, writes, min_psnr=33.0)  # measured 35.0 dB
    assert mismatches == 0


def test_rgb_fallback_across_tracks_growth_and_gaps(tmp_path: Path) -> None:
    """No native samples: boxes go the RGB way, margins through swscale; canvases grow, idle
    tracks close and come back."""
    smooth, _native = _clip(tmp_path, frames=1)
    _native.close()
    frames = np.repeat(smooth, 2 * IDLE_FRAMES + 8, axis=0)
    writes: list[Write] = []
    for f in range(len(frames)):
        frames[f] = np.roll(smooth[0], f % 5, axis=1)
        writes.append((f, *_face(1, 20 + f % 5, 20, 12 + (f % 7) * 2)))  # sizes change
        if f < 3 or f > IDLE_FRAMES + 5:  # track 2 vanishes longer than IDLE_FRAMES, comes back
            writes.append((f, *_face(2, 60, 10, 15)))
    back, mismatches = _restore(_seal_all(frames, writes, None), {1, 2}, frames)
    _check(frames, back, writes, min_psnr=30.0)  # measured 32.6 dB
    assert mismatches == 0


def test_boxes_stay_exact_where_squares_overlap() -> None:
    """Margins are pasted before boxes: a neighbour's lossy margin never lands on a box."""
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, size=(3, 72, 96, 3), dtype=np.uint8)
    writes = [(f, *_face(t, x, 20, 20)) for f in range(3) for t, x in ((1, 20), (2, 38))]
    back, _ = _restore(_seal_all(frames, writes, None), {1, 2}, frames)
    _check(frames, back, writes, min_psnr=None)  # noise: only the boxes matter here


def test_only_the_chosen_tracks_come_back() -> None:
    frames = np.random.default_rng(2).integers(0, 256, size=(3, 72, 96, 3), dtype=np.uint8)
    writes = [(f, *_face(t, x, y, 14)) for f in range(3) for t, x, y in ((1, 10, 10), (4, 60, 30))]
    reader = RegionReader(open_stream(_seal_all(frames, writes, None), AUTHORITY), frozenset({4}))
    for f in range(3):
        recs = reader.for_frame(f)
        assert {r.track_id for r in recs} == {4} and [r.exact for r in recs] == [False, True]


def test_previous_format_with_exact_whole_squares_still_opens(tmp_path: Path) -> None:
    """Version 2 payloads: one exact 4:2:0 segment of whole squares per track."""
    frames, native = _clip(tmp_path, frames=3)
    out = io.BytesIO()
    sealer = SealWriter(AUTHORITY.public_key(), out)
    sealer.write(MAGIC + b"\x02")
    g, _box = _face(3, 30, 16, 24)
    w, h = canvas_for(g.cx1 - g.cx0, g.cy1 - g.cy0)
    enc = SegmentEncoder(YUV420, w, h)

    def record(tag: bytes, body: bytes) -> None:
        sealer.write(struct.pack(">4sI", tag, len(body)) + body)

    first = native.at(0)
    assert first is not None
    record(b"SBEG", SBEG.pack(0, 3, YUV420, w, h, first.colorspace, first.color_range))
    for f in range(3):
        n = native.at(f)
        assert n is not None
        planes = (n.y[g.cy0 : g.cy1, g.cx0 : g.cx1].copy(),
                  n.u[g.cy0 // 2 : g.cy1 // 2, g.cx0 // 2 : g.cx1 // 2].copy(),
                  n.v[g.cy0 // 2 : g.cy1 // 2, g.cx0 // 2 : g.cx1 // 2].copy())  # fmt: skip
        record(b"SREG", SREG.pack(0, f, g.cx0, g.cy0, g.cx1, g.cy1, g.cx0, g.cy0,
                                  g.cx1 - g.cx0, g.cy1 - g.cy0, 0))  # fmt: skip
        for packet in enc.encode(planes) + (enc.flush() if f == 2 else []):
            record(b"SPKT", SEG_ID.pack(0) + packet)
    record(b"SEND", SEG_ID.pack(0))
    sealer.close()
    native.close()
    reader = RegionReader(open_stream(io.BytesIO(out.getvalue()), AUTHORITY), frozenset({3}))
    for f in range(3):
        (rec,) = reader.for_frame(f)
        assert rec.exact and np.array_equal(rec.pixels, frames[f, g.cy0 : g.cy1, g.cx0 : g.cx1])


def test_a_segment_of_an_unknown_kind_is_tampering() -> None:
    body = SBEG.pack(0, 1, 9, 16, 16, 2, 0)
    plain = MAGIC + b"\x03" + struct.pack(">4sI", b"SBEG", len(body)) + body
    with pytest.raises(TamperedError, match="unknown kind"):
        RegionReader([plain], frozenset({1})).for_frame(0)


class _Sealer:
    """Records what the sealing thread hands it; fails on frame ``fail_at``; waits for ``gate``."""

    def __init__(self, fail_at: int = -1) -> None:
        self.frames: list[int] = []
        self.closed = False
        self.fail_at = fail_at
        self.gate = threading.Event()

    def write(self, frame: int, geom: CropGeom, box: FaceBox, region: np.ndarray) -> None:
        self.gate.wait(10)
        if frame == self.fail_at:
            raise ValueError("boom")
        self.frames.append(frame)

    def close(self) -> None:
        self.closed = True


def test_the_sealing_thread_seals_in_order_and_copies_regions() -> None:
    sealer = _Sealer()
    sealer.gate.set()
    regions = BackgroundRegions(sealer, budget=0)  # type: ignore[arg-type]
    g, box = _face(1, 10, 10, 20)
    region = np.zeros((g.cy1 - g.cy0, g.cx1 - g.cx0, 3), np.uint8)
    for f in range(20):
        regions.write(f, g, box, region)
        region[...] = 255  # the painter overwrites: the queued copy must not change
    regions.close()
    assert sealer.frames == list(range(20)) and sealer.closed


def test_an_error_on_the_sealing_thread_comes_back_and_abort_never_hangs() -> None:
    sealer = _Sealer(fail_at=2)
    regions = BackgroundRegions(sealer, budget=1 << 20)  # type: ignore[arg-type]
    g, box = _face(1, 10, 10, 20)
    region = np.zeros((g.cy1 - g.cy0, g.cx1 - g.cx0, 3), np.uint8)
    for f in range(5):
        regions.write(f, g, box, region)
    sealer.gate.set()
    with pytest.raises(ValueError, match="boom"):
        regions.close()
    assert sealer.frames == [0, 1] and not sealer.closed
    regions.abort()  # a second way out: returns at once
