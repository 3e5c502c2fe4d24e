"""The manifest box appended to an MP4: write/read, signature over every byte, refusals."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.domain.errors import BadInputError, TamperedError, WrongKeyError
from shared.pipeline import container
from shared.pipeline.container import append_box, read_box, read_verified, sealed_reader
from shared.pipeline.manifest import Manifest

MANIFEST = Manifest(
    model_id="m", model_version="1", key_id="kid1", clip_id="c", frames=2, fps=25.0,
    rate="25", width=16, height=16, created_at=1.0,
).canonical_bytes()  # fmt: skip


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _fake_mp4(path: Path) -> Path:
    path.write_bytes(
        _box(b"ftyp", b"isom" * 4) + _box(b"moov", b"m" * 40) + _box(b"mdat", b"\x07" * 300)
    )
    return path


def test_box_round_trip_with_sealed_payload(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    clip, sealed = _fake_mp4(tmp_path / "a.mp4"), tmp_path / "s.bin"
    sealed.write_bytes(b"S" * 1000)
    original = clip.read_bytes()
    append_box(clip, MANIFEST, key, sealed)
    emb = read_verified(clip, key.public_key(), key_id="kid1")
    assert clip.read_bytes().startswith(original)  # appended: the video bytes do not move
    assert emb.manifest_bytes == MANIFEST and emb.manifest.key_id == "kid1"
    with sealed_reader(emb) as fh:
        assert fh.read() == b"S" * 1000


def test_box_is_a_top_level_uuid_box(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    clip = _fake_mp4(tmp_path / "a.mp4")
    append_box(clip, MANIFEST, key)
    emb = read_box(clip)
    data = clip.read_bytes()
    assert data[emb.box_offset + 4 : emb.box_offset + 8] == b"uuid"
    assert emb.box_offset + emb.box_size == len(data) and emb.sealed_length == 0


def test_every_flipped_byte_is_refused(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    clip, sealed = _fake_mp4(tmp_path / "a.mp4"), tmp_path / "s.bin"
    sealed.write_bytes(b"sealed")
    append_box(clip, MANIFEST, key, sealed)
    good = clip.read_bytes()
    for index in range(0, len(good), 3):
        bad = bytearray(good)
        bad[index] ^= 0x01
        clip.write_bytes(bytes(bad))
        # a flip inside the manifest's key id claims another key set: refused as a wrong key
        with pytest.raises((TamperedError, BadInputError, WrongKeyError)):
            read_verified(clip, key.public_key(), key_id="kid1")


def test_file_without_box_is_not_a_deidentified_clip(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no manifest"):
        read_box(_fake_mp4(tmp_path / "plain.mp4"))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, not an mp4")
    with pytest.raises(BadInputError, match="no manifest"):
        read_box(junk)


def test_other_signing_key_is_a_wrong_key(tmp_path: Path) -> None:
    clip = _fake_mp4(tmp_path / "a.mp4")
    append_box(clip, MANIFEST, Ed25519PrivateKey.generate())
    with pytest.raises(WrongKeyError):
        read_verified(clip, Ed25519PrivateKey.generate().public_key(), key_id="other")
    with pytest.raises(TamperedError):
        read_verified(clip, Ed25519PrivateKey.generate().public_key(), key_id="kid1")


def test_sidecar_has_manifest_and_signature(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    clip = _fake_mp4(tmp_path / "a.mp4")
    sig = append_box(clip, MANIFEST, key)
    container.write_sidecar(tmp_path / "m.json", read_box(clip))
    text = (tmp_path / "m.json").read_text()
    assert sig.hex() in text and '"key_id": "kid1"' in text
