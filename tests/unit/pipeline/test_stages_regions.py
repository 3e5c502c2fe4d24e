"""Pieces of the pipeline: box quantisation round trip, keyed noise per track, mode, seal kind and
track selection, CLI option parsing."""

from __future__ import annotations

import pytest
import torch
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.crypto.keys import PrivateSideKeys, authority_key_id
from shared.domain.errors import BadInputError, ConfigError, WrongKeyError
from shared.pipeline.api import ReidOptions
from shared.pipeline.manifest import FaceRecord, Manifest
from shared.pipeline.plan import plan_restore, resolve_mode, select_tracks
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


AUTHORITY = X25519PrivateKey.generate()


def _manifest(seal: str, authority: X25519PrivateKey = AUTHORITY) -> Manifest:
    faces = (FaceRecord(0, 1, 0, 0, 10, 10), FaceRecord(0, 4, 20, 0, 10, 10))
    aid = authority_key_id(authority.public_key()) if seal != "none" else None
    return Manifest("m", "1", "kid", "c", 1, 25.0, "25", 64, 48, faces=faces, seal=seal,
                    authority_key_id=aid)  # fmt: skip


def _keys(with_authority: bool) -> PrivateSideKeys:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    authority = AUTHORITY if with_authority else None
    return PrivateSideKeys(b"s" * 32, Ed25519PrivateKey.generate().public_key(), authority, "kid")


def test_auto_mode_prefers_sealed_only_when_it_can_open_it() -> None:
    assert resolve_mode("auto", _manifest("regions"), _keys(True)) == "sealed"
    assert resolve_mode("auto", _manifest("both"), _keys(True)) == "sealed"
    assert resolve_mode("auto", _manifest("regions"), _keys(False)) == "learned"
    assert resolve_mode("auto", _manifest("none"), _keys(True)) == "learned"
    assert resolve_mode("auto", _manifest("original"), _keys(True)) == "learned"
    foreign = _manifest("regions", X25519PrivateKey.generate())
    assert resolve_mode("auto", foreign, _keys(True)) == "learned"
    with pytest.raises(BadInputError, match="no sealed originals"):
        resolve_mode("sealed", _manifest("none"), _keys(True))
    with pytest.raises(BadInputError, match="use --original"):
        resolve_mode("sealed", _manifest("original"), _keys(True))
    with pytest.raises(ConfigError, match="authority_x25519"):
        resolve_mode("sealed", _manifest("regions"), _keys(False))
    with pytest.raises(WrongKeyError, match="made for authority key"):
        resolve_mode("sealed", foreign, _keys(True))
    with pytest.raises(BadInputError):
        resolve_mode("magic", _manifest("regions"), _keys(True))


def test_original_needs_an_original_seal_and_no_face_options() -> None:
    keys = _keys(True)
    assert plan_restore(_manifest("original"), keys, ReidOptions(original=True))[0] == "original"
    assert plan_restore(_manifest("both"), keys, ReidOptions(original=True))[0] == "original"
    refused = {
        "no sealed original file": (_manifest("regions"), ReidOptions(original=True)),
        "--mode learned": (_manifest("both"), ReidOptions(original=True, mode="learned")),
        "--tracks": (_manifest("both"), ReidOptions(original=True, tracks=frozenset({1}))),
        "--lossless": (_manifest("both"), ReidOptions(original=True, lossless=True)),
    }
    for reason, (manifest, options) in refused.items():
        with pytest.raises(BadInputError, match=reason):
            plan_restore(manifest, keys, options)
    with pytest.raises(WrongKeyError):
        plan_restore(_manifest("original", X25519PrivateKey.generate()), keys,
                     ReidOptions(original=True))  # fmt: skip


def test_track_selection_refuses_unknown_ids() -> None:
    assert select_tracks(_manifest("none"), None) == {1, 4}
    assert select_tracks(_manifest("none"), frozenset({4})) == {4}
    with pytest.raises(BadInputError, match="no track 2"):
        select_tracks(_manifest("none"), frozenset({2}))


def test_cli_option_parsing() -> None:
    assert parse_attributes("gender=keep, beard=change") == {"gender": "keep", "beard": "change"}
    assert parse_attributes("") == {}
    with pytest.raises(BadInputError):
        parse_attributes("gender=maybe")
    assert parse_tracks("1,4") == {1, 4} and parse_tracks(None) is None
    for bad in ("a,b", "", "-1"):
        with pytest.raises(BadInputError):
            parse_tracks(bad)
