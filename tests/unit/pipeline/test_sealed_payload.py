"""Sealed payloads: the original file comes back byte for byte, first-release PNG payloads still
open, and broken streams are tampering (face segments: ``test_sealed_regions``)."""

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
from shared.pipeline.region_reader import RegionReader
from shared.pipeline.sealed_payload import RecordWriter, copy_original, read_records, write_original

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
