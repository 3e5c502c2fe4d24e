"""Manifest JSON: round trip, compact runs per track, canonical bytes, format 1, malformed input."""

from __future__ import annotations

import json

import pytest

from shared.domain.errors import BadInputError
from shared.pipeline.manifest import FaceRecord, Manifest, encode_runs


def _manifest(**extra: object) -> Manifest:
    faces = [FaceRecord(f, 1, 10 + f, 20, 30, 32) for f in range(5)]
    faces += [FaceRecord(f, 4, 100, 50, 20, 22) for f in (2, 3, 7)]
    fields: dict = dict(
        model_id="uunet-product-w0.25",
        model_version="0.1.0",
        key_id="abcd",
        clip_id="clip-1",
        frames=10,
        fps=29.97,
        rate="30000/1001",
        width=320,
        height=240,
        faces=tuple(faces),
        attributes={"beard": "change", "gender": "keep"},
        seal="both",
        authority_key_id="ef01",
        created_at=1234.5,
        original_sha256="ab" * 32,
        original_bytes=588804,
        software="uunet/0.1.0",
        signer_id="0123456789abcdef",
    )
    fields.update(extra)
    return Manifest(**fields)


def test_json_round_trip_keeps_every_field() -> None:
    m = _manifest()
    back = Manifest.from_json(m.to_json())
    assert back == m
    assert Manifest.from_json(m.canonical_bytes()) == m


def test_runs_are_compact_and_split_at_gaps() -> None:
    runs = list(encode_runs(_manifest().faces))
    assert [(r["track"], r["start"], len(r["boxes"])) for r in runs] == [
        (1, 0, 5),
        (4, 2, 2),
        (4, 7, 1),
    ]


def test_tracks_summarise_first_last_and_count() -> None:
    tracks = {t.track_id: t for t in _manifest().tracks}
    assert (tracks[4].first_frame, tracks[4].last_frame, tracks[4].faces) == (2, 7, 3)
    assert tracks[1].faces == 5


def test_canonical_bytes_are_stable_and_compact() -> None:
    m = _manifest()
    assert m.canonical_bytes() == _manifest().canonical_bytes()
    assert b" " not in m.canonical_bytes()
    assert json.loads(m.canonical_bytes())["sealed"] is True
    assert json.loads(m.canonical_bytes())["seal"] == "both"


def test_format_1_manifests_of_the_first_release_still_parse() -> None:
    data = _manifest().to_dict()
    for key in ("seal", "original", "software", "signer_id"):
        del data[key]
    data["format_version"] = 1
    old = Manifest.from_dict(data)
    assert old.seal == "regions" and old.seals_regions and not old.seals_original
    assert old.original_sha256 == "" and old.format_version == 1
    data["sealed"] = False
    assert Manifest.from_dict(data).seal == "none"


def test_unknown_seal_kind_is_refused() -> None:
    data = _manifest().to_dict() | {"seal": "everything"}
    with pytest.raises(BadInputError, match="seal kind"):
        Manifest.from_dict(data)


def test_empty_manifest_is_valid() -> None:
    m = _manifest(faces=(), seal="none", authority_key_id=None)
    back = Manifest.from_json(m.to_json())
    assert back.faces == () and back.tracks == ()


@pytest.mark.parametrize("text", ["", "[]", '{"format_version": 1}', "{not json"])
def test_malformed_manifest_is_bad_input(text: str) -> None:
    with pytest.raises(BadInputError):
        Manifest.from_json(text)


def test_future_format_is_refused() -> None:
    data = _manifest().to_dict()
    data["format_version"] = 99
    with pytest.raises(BadInputError, match="unsupported"):
        Manifest.from_dict(data)
