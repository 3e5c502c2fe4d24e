"""The whole payload chain through real libx264: a track's sealed code survives the product's own
encode and a third party's re-encode, and only the right key set opens it.

Small and fast (a 512x384 clip of 64 frames, a 16 px code): it runs in ``make test``; the figures
on real clips come from ``bench/bench_payload.py``. No server is needed.
"""

from __future__ import annotations

import numpy as np
import pytest

from shared.domain.errors import WrongKeyError
from shared.evaluation.transcode import Transcode, decode_luma, encode_rgb, transcode
from shared.payload.carrier import PayloadFormat, TrackIdentity, read_codeword, track_codeword
from shared.payload.code import CodeOptions, decode_face, encode_face, face_square
from shared.payload.embed import PayloadEmbedder
from shared.payload.extract import TrackReader
from tests.unit.payload.conftest import box_at, textured_clip

FMT = PayloadFormat(code=CodeOptions(size=16, budget=40), parity=1.0)
WHO = TrackIdentity("0123456789abcdef", "00112233445566778899aabbccddeeff", 3)
SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def public_clip() -> tuple[bytes, np.ndarray]:
    """The marked clip as the product encodes it (CRF 23), and the face the code was made from."""
    clip = textured_clip(64, seed=5)
    face = face_square(clip[0], box_at(0), FMT.code.margin)
    embedder = PayloadEmbedder(FMT.channel)
    embedder.set_codeword(WHO.track_id, track_codeword(SECRET, WHO, face, FMT))
    for k, frame in enumerate(clip):
        embedder.mark(frame, k, [(WHO.track_id, box_at(k))])
    return encode_rgb(list(clip), crf=23), face


def _read(mp4: bytes, first: int = 0) -> TrackReader:
    reader = TrackReader(FMT.bits, FMT.channel)
    for k, y in enumerate(decode_luma(mp4)):
        reader.observe(y, k, box_at(first + k))
    return reader


@pytest.mark.parametrize(
    "how", [None, Transcode(crf=23), Transcode(crf=23, start=11)], ids=["own", "re23", "cut"]
)
def test_the_code_comes_back_after_real_h264(public_clip: tuple[bytes, np.ndarray],
                                             how: Transcode | None) -> None:  # fmt: skip
    mp4, face = public_clip
    received = mp4 if how is None else transcode(mp4, how)
    got = read_codeword(_read(received, how.start if how else 0).read(), SECRET, WHO.key_id, FMT)
    assert got.header.track_id == WHO.track_id and got.header.clip_hex == WHO.clip_id
    assert np.array_equal(got.face, decode_face(encode_face(face, FMT.code), FMT.code))


def test_another_key_set_never_gets_a_face(public_clip: tuple[bytes, np.ndarray]) -> None:
    with pytest.raises(WrongKeyError):
        read_codeword(_read(public_clip[0]).read(), bytes(32), "fedcba9876543210", FMT)
