"""The identity code: fixed-size record, the budget holds, the thumbnail comes back."""

from __future__ import annotations

import numpy as np
import pytest

from shared.domain.errors import BadInputError
from shared.payload.code import CodeOptions, decode_face, encode_face, face_square


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    y, x = np.mgrid[0:120, 0:100]
    img = np.stack([128 + 60 * np.sin(x / 9.0), 100 + 50 * np.cos(y / 7.0), 90 + 0 * x], -1)
    img[40:55, 25:45] = 20  # an "eye"
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("budget", [100, 160, 256])
def test_record_has_a_fixed_size_and_decodes_to_a_close_thumbnail(
    face: np.ndarray, budget: int
) -> None:
    opts = CodeOptions(budget=budget)
    record = encode_face(face, opts)
    assert len(record) == opts.record_bytes
    thumb = decode_face(record, opts)
    assert thumb.shape == (32, 32, 3) and thumb.dtype == np.uint8
    import cv2

    ref = cv2.resize(face, (32, 32), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(thumb.astype(float) - ref).mean() < 20.0


def test_a_larger_budget_gives_a_closer_thumbnail(face: np.ndarray) -> None:
    import cv2

    ref = cv2.resize(face, (32, 32), interpolation=cv2.INTER_AREA).astype(float)
    errs = [
        np.abs(decode_face(encode_face(face, o), o).astype(float) - ref).mean()
        for o in (CodeOptions(budget=100), CodeOptions(budget=400))
    ]
    assert errs[1] < errs[0]


def test_garbage_records_are_refused() -> None:
    opts = CodeOptions(budget=64)
    with pytest.raises(BadInputError):
        decode_face(bytes(10), opts)
    with pytest.raises(BadInputError):
        decode_face(bytes(opts.record_bytes), opts)  # length 0
    with pytest.raises(BadInputError):
        decode_face(b"\x00\x20" + bytes(range(64)), opts)  # not a VP8 bitstream
    with pytest.raises(BadInputError):
        encode_face(np.zeros((10, 10), np.uint8), opts)


def test_a_budget_too_small_for_the_thumbnail_is_refused(face: np.ndarray) -> None:
    with pytest.raises(BadInputError, match="does not fit"):
        encode_face(face, CodeOptions(budget=20))


def test_face_square_pads_at_the_frame_edge() -> None:
    frame = np.arange(40 * 60 * 3, dtype=np.uint32).reshape(40, 60, 3).astype(np.uint8)
    crop = face_square(frame, (-5.0, -5.0, 15.0, 25.0), margin=0.2)
    assert crop.shape == (42, 42, 3)
