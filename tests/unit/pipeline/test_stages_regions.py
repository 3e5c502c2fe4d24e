"""Pieces of the pipeline: box quantisation round trip, keyed noise per track, sealed region records,
mode and track selection, CLI option parsing."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.crypto.keys import PrivateSideKeys
from shared.crypto.seal import SealWriter, open_stream
from shared.domain.errors import BadInputError, ConfigError, TamperedError
from shared.pipeline.manifest import FaceRecord, Manifest
from shared.pipeline.reid import resolve_mode, select_tracks
from shared.pipeline.sealed_regions import RegionWriter, iter_records, paste_record
from shared.pipeline.stages import CROP_MARGIN, NoiseBank, from_record, quantise, to_record
from shared.video.crops import square_geom
from shared.video.types import FaceBox
from uunet_cli.commands.deid import parse_attributes
from uunet_cli.commands.reid import parse_tracks


def test_quantised_box_survives_the_manifest_and_gives_the_same_crop_square() -> None:
    box = FaceBox(10.4, 20.6, 55.2, 71.9, 0.9, track_id=3)
    q = quantise(box, 160, 120)
    assert q is not None and (q.x0, q.y0, q.x1, q.y1) == (10, 21, 55, 72)
    back = from_record(to_record(7, q))
    assert back.track_id == 3
    assert square_geom(back, 0, 160, 120, CROP_MARGIN) == square_geom(q, 0, 160, 120, CROP_MARGIN)


def test_boxes_too_small_or_outside_are_dropped() -> None:
    assert quantise(FaceBox(5.0, 5.0, 6.0, 30.0), 160, 120) is None
    assert quantise(FaceBox(170.0, 10.0, 190.0, 30.0), 160, 120) is None


def test_noise_is_per_track_and_keyed() -> None:
    bank = NoiseBank(b"k" * 32, "clip", 64)
    noise = bank.for_tracks([1, 2, 1])
    assert noise.shape == (3, 1, 64, 64)
    assert torch.equal(noise[0], noise[2]) and not torch.equal(noise[0], noise[1])
    other = NoiseBank(b"x" * 32, "clip", 64).for_tracks([1])
    assert not torch.equal(other[0], noise[0])
    assert bank.for_tracks([]).shape == (0, 1, 64, 64)


def _sealed_regions(authority: X25519PrivateKey) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    sealer = SealWriter(authority.public_key(), out)
    writer = RegionWriter(sealer)
    regions = []
    for frame in range(3):
        geom = square_geom(FaceBox(10.0, 10.0, 16.0, 18.0, 1.0, 5), 0, 64, 48, CROP_MARGIN)
        shape = (geom.cy1 - geom.cy0, geom.cx1 - geom.cx0, 3)
        region = rng.integers(0, 256, size=shape, dtype=np.uint8)
        writer.write(frame, geom, region)
        regions.append(region)
    sealer.close()
    return out.getvalue(), regions


def test_sealed_regions_round_trip_exactly() -> None:
    authority = X25519PrivateKey.generate()
    sealed, regions = _sealed_regions(authority)
    records = list(iter_records(open_stream(io.BytesIO(sealed), authority)))
    assert [r.frame for r in records] == [0, 1, 2] and {r.track_id for r in records} == {5}
    for rec, region in zip(records, regions, strict=True):
        assert np.array_equal(rec.pixels, region)
        frame = np.zeros((48, 64, 3), np.uint8)
        paste_record(frame, rec)
        assert np.array_equal(frame[rec.cy0 : rec.cy1, rec.cx0 : rec.cx1], region)


def test_broken_record_stream_is_tampering() -> None:
    with pytest.raises(TamperedError):
        list(iter_records([b"JUNK" + bytes(40)]))
    with pytest.raises(TamperedError):
        list(iter_records([b"FACE" + bytes(10)]))


def _manifest(sealed: bool) -> Manifest:
    faces = (FaceRecord(0, 1, 0, 0, 10, 10), FaceRecord(0, 4, 20, 0, 10, 10))
    return Manifest("m", "1", "kid", "c", 1, 25.0, "25", 64, 48, faces=faces, sealed=sealed)


def _keys(with_authority: bool) -> PrivateSideKeys:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    authority = X25519PrivateKey.generate() if with_authority else None
    return PrivateSideKeys(b"s" * 32, Ed25519PrivateKey.generate().public_key(), authority, "kid")


def test_auto_mode_prefers_sealed_only_when_it_can_open_it() -> None:
    assert resolve_mode("auto", _manifest(True), _keys(True)) == "sealed"
    assert resolve_mode("auto", _manifest(True), _keys(False)) == "learned"
    assert resolve_mode("auto", _manifest(False), _keys(True)) == "learned"
    with pytest.raises(BadInputError, match="no sealed originals"):
        resolve_mode("sealed", _manifest(False), _keys(True))
    with pytest.raises(ConfigError, match="authority_x25519"):
        resolve_mode("sealed", _manifest(True), _keys(False))
    with pytest.raises(BadInputError):
        resolve_mode("magic", _manifest(True), _keys(True))


def test_track_selection_refuses_unknown_ids() -> None:
    assert select_tracks(_manifest(False), None) == {1, 4}
    assert select_tracks(_manifest(False), frozenset({4})) == {4}
    with pytest.raises(BadInputError, match="no track 2"):
        select_tracks(_manifest(False), frozenset({2}))


def test_cli_option_parsing() -> None:
    assert parse_attributes("gender=keep, beard=change") == {"gender": "keep", "beard": "change"}
    assert parse_attributes("") == {}
    with pytest.raises(BadInputError):
        parse_attributes("gender=maybe")
    assert parse_tracks("1,4") == {1, 4} and parse_tracks(None) is None
    for bad in ("a,b", "", "-1"):
        with pytest.raises(BadInputError):
            parse_tracks(bad)
