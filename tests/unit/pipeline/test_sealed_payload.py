"""Sealed payloads: per-track lossless face segments round trip bit-exactly (native 4:2:0 samples
and the RGB fallback), tracks are decoded only when chosen, the original file comes back byte for
byte, first-release PNG payloads still open, and broken streams are tampering."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.crypto.seal import SealWriter, open_stream
from shared.domain.errors import TamperedError
from shared.pipeline.region_reader import RegionReader, paste_record
from shared.pipeline.sealed_payload import RecordWriter, copy_original, read_records, write_original
from shared.pipeline.sealed_regions import IDLE_FRAMES, RegionSealer
from shared.pipeline.stages import CROP_MARGIN
from shared.pipeline.track_codec import rct_forward, rct_inverse
from shared.video.crops import CropGeom, square_geom
from shared.video.decode import iter_frames, probe
from shared.video.planes import NativeFrames
from shared.video.synthetic import SceneSpec, write_clip
from shared.video.types import FaceBox

AUTHORITY = X25519PrivateKey.generate()


def _seal(write: object) -> bytes:
    """Run ``write(records)`` into an in-memory seal; returns the sealed bytes."""
    out = io.BytesIO()
    sealer = SealWriter(AUTHORITY.public_key(), out)
    write(RecordWriter(sealer))  # type: ignore[operator]
    sealer.close()
    return out.getvalue()


def _open(sealed: bytes) -> io.BytesIO:
    return io.BytesIO(sealed)


def _geom(track: int, x: float, y: float, size: float, w: int = 96, h: int = 72) -> CropGeom:
    return square_geom(FaceBox(x, y, x + size, y + size, 1.0, track), 0, w, h, CROP_MARGIN)


def test_reversible_colour_transform_is_exact_on_every_value() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    rgb[0, :4] = [[0, 255, 0], [255, 0, 255], [0, 0, 0], [255, 255, 255]]  # the wrap-around ends
    assert np.array_equal(rct_inverse(rct_forward(rgb)), rgb)


def test_rgb_segments_round_trip_exactly_across_tracks_growth_and_gaps() -> None:
    """No native samples: every region goes the RGB way; canvases grow, idle tracks close."""
    rng = np.random.default_rng(1)
    frames = np.zeros((2 * IDLE_FRAMES + 8, 72, 96, 3), np.uint8)
    written: list[tuple[int, CropGeom]] = []
    for f in range(len(frames)):
        frames[f] = rng.integers(0, 256, size=(72, 96, 3), dtype=np.uint8) // 8 * 8  # compressible
        size = 12 + (f % 7) * 2  # sizes change: the canvas must grow, then a new segment starts
        written.append((f, _geom(1, 20.0 + f % 5, 20.0, size)))
        if f < 3 or f > IDLE_FRAMES + 5:  # track 2 vanishes longer than IDLE_FRAMES, comes back
            written.append((f, _geom(2, 60.0, 10.0, 16)))

    def write(records: RecordWriter) -> None:
        sealer = RegionSealer(records, None)
        for f, g in written:
            sealer.write(f, g, frames[f, g.cy0 : g.cy1, g.cx0 : g.cx1])
        sealer.close()
        assert sealer.count == len(written) and sealer.rgb_fallbacks == len(written)

    sealed = _seal(write)
    reader = RegionReader(open_stream(_open(sealed), AUTHORITY), frozenset({1, 2}))
    got = 0
    for f in range(len(frames)):
        back = np.zeros_like(frames[f])
        for rec in reader.for_frame(f):
            paste_record(back, rec)
            assert np.array_equal(back[rec.cy0 : rec.cy1, rec.cx0 : rec.cx1],
                                  frames[f, rec.cy0 : rec.cy1, rec.cx0 : rec.cx1])  # fmt: skip
            got += 1
    assert got == len(written) and reader.mismatches == 0


def test_native_420_segments_are_exact_against_the_decoded_rgb(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    write_clip(clip, SceneSpec(96, 72, frames=6, n_faces=1, face_px=(24, 28), seed=3))
    info = probe(clip)
    frames = np.concatenate([b.frames for b in iter_frames(clip)])
    geoms = [_geom(7, 31.0 + f, 17.0, 23) for f in range(len(frames))]  # odd corners: even-aligned

    def write(records: RecordWriter) -> None:
        native = NativeFrames(clip, info.width, info.height)
        sealer = RegionSealer(records, native)
        for f, g in enumerate(geoms):
            sealer.write(f, g, frames[f, g.cy0 : g.cy1, g.cx0 : g.cx1])
        sealer.close()
        native.close()
        assert sealer.rgb_fallbacks == 0  # every region went the 4:2:0 way and checked exact

    reader = RegionReader(open_stream(_open(_seal(write)), AUTHORITY), frozenset({7}))
    for f, g in enumerate(geoms):
        (rec,) = reader.for_frame(f)
        assert np.array_equal(rec.pixels, frames[f, g.cy0 : g.cy1, g.cx0 : g.cx1])
    assert reader.mismatches == 0


def test_only_the_chosen_tracks_come_back() -> None:
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, size=(72, 96, 3), dtype=np.uint8)

    def write(records: RecordWriter) -> None:
        sealer = RegionSealer(records, None)
        for f in range(3):
            for g in (_geom(1, 10.0, 10.0, 14), _geom(4, 60.0, 30.0, 14)):
                sealer.write(f, g, frame[g.cy0 : g.cy1, g.cx0 : g.cx1])
        sealer.close()

    reader = RegionReader(open_stream(_open(_seal(write)), AUTHORITY), frozenset({4}))
    assert [[r.track_id for r in reader.for_frame(f)] for f in range(3)] == [[4], [4], [4]]


def test_original_file_comes_back_byte_for_byte_with_its_hash(tmp_path: Path) -> None:
    src = tmp_path / "evidence.mov"
    src.write_bytes(np.random.default_rng(3).bytes(3 * (1 << 20) + 17))  # more than one piece
    digest: list[tuple[str, int]] = []
    sealed = _seal(lambda records: digest.append(write_original(records, src)))
    _legacy, records = read_records(open_stream(_open(sealed), AUTHORITY))
    out = io.BytesIO()
    assert copy_original(records, out) == digest[0]
    assert out.getvalue() == src.read_bytes() and digest[0][1] == src.stat().st_size


def test_an_original_whose_recorded_hash_differs_is_tampering() -> None:
    def write(records: RecordWriter) -> None:
        records.write(b"ORIG", b"abc")
        records.write(b"OEND", struct.pack(">32sQ", b"\x00" * 32, 3))

    _legacy, records = read_records(open_stream(_open(_seal(write)), AUTHORITY))
    with pytest.raises(TamperedError, match="recorded hash"):
        copy_original(records, io.BytesIO())


def test_a_region_seal_holds_no_original() -> None:
    _legacy, records = read_records(open_stream(_open(_seal(lambda r: None)), AUTHORITY))
    with pytest.raises(TamperedError, match="no original"):
        copy_original(records, io.BytesIO())


def test_first_release_png_payloads_still_open() -> None:
    rng = np.random.default_rng(4)
    region = rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    png = cv2.imencode(".png", np.ascontiguousarray(region[:, :, ::-1]))[1].tobytes()
    out = io.BytesIO()
    sealer = SealWriter(AUTHORITY.public_key(), out)
    for frame in (0, 2):
        sealer.write(struct.pack(">4sIIIIIII", b"FACE", frame, 3, 5, 6, 17, 16, len(png)) + png)
    sealer.close()
    reader = RegionReader(open_stream(_open(out.getvalue()), AUTHORITY), frozenset({3}))
    assert reader.for_frame(0)[0].pixels.tolist() == region.tolist()
    assert reader.for_frame(1) == [] and len(reader.for_frame(2)) == 1


@pytest.mark.parametrize(
    "plain",
    [b"JUNK" + bytes(40), b"UUSP\x02SPKT\x00\x00\x00\x04\x00\x00\x00\x09", b"UUSP\x07"],
)
def test_broken_payloads_are_tampering(plain: bytes) -> None:
    with pytest.raises(TamperedError):
        reader = RegionReader([plain], frozenset({9}))
        reader.for_frame(0)
