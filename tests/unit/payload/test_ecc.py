"""Reed-Solomon layout and soft-decision decoding: erasures, errors, and what is beyond repair."""

from __future__ import annotations

import os

import numpy as np
import pytest

from shared.domain.errors import BadInputError
from shared.payload import ecc


def _soft(bits: np.ndarray, strength: float = 1.0) -> np.ndarray:
    return np.where(bits > 0, strength, -strength).astype(np.float64)


def test_plan_balances_blocks_within_gf256() -> None:
    layout = ecc.plan(304, 1.0)
    assert layout.blocks == 3 and layout.chunk * layout.blocks >= 304
    assert layout.data_bytes + layout.parity_bytes <= 255
    assert layout.bits == 8 * layout.codeword_bytes
    with pytest.raises(BadInputError):
        ecc.plan(0, 1.0)


def test_clean_codeword_decodes() -> None:
    layout = ecc.plan(100, 0.5)
    message = os.urandom(100)
    bits = ecc.encode(message, layout)
    assert bits.size == layout.bits and set(np.unique(bits)) <= {0, 1}
    assert ecc.decode(_soft(bits), np.ones(bits.size, np.int64), layout) == message


def test_unseen_bits_become_erasures_and_are_filled() -> None:
    layout = ecc.plan(100, 1.0)
    message = os.urandom(100)
    bits = ecc.encode(message, layout)
    llr, hits = _soft(bits), np.ones(bits.size, np.int64)
    lost = np.arange(8 * 60, 8 * 130)  # 70 consecutive bytes never shown (about 35% per block)
    llr[lost], hits[lost] = 0.0, 0
    assert ecc.decode(llr, hits, layout) == message


def test_weak_wrong_bits_are_erased_first_so_more_errors_are_corrected() -> None:
    layout = ecc.plan(100, 0.5)  # 25 parity bytes per block: 12 errors by hard decoding alone
    message = os.urandom(100)
    bits = ecc.encode(message, layout)
    llr = _soft(bits, 5.0)
    rng = np.random.default_rng(0)
    wrong = rng.choice(layout.codeword_bytes, size=18 * layout.blocks, replace=False)
    for byte in wrong:  # one flipped bit per damaged byte, with a low confidence
        llr[8 * byte + 3] = -0.1 * np.sign(llr[8 * byte + 3])
    assert ecc.decode(llr, np.ones(bits.size, np.int64), layout) == message


def test_too_much_damage_gives_none_not_a_wrong_message() -> None:
    layout = ecc.plan(60, 0.5)
    bits = ecc.encode(os.urandom(60), layout)
    llr = np.random.default_rng(1).normal(size=bits.size)  # noise only
    assert ecc.decode(llr, np.ones(bits.size, np.int64), layout) is None


def test_a_miscorrected_block_is_rejected_by_its_crc() -> None:
    layout = ecc.plan(40, 1.0)
    bits = ecc.encode(os.urandom(40), layout)
    llr = _soft(bits)
    llr[8 * 48 : 8 * 68] *= -1  # 20 wrong bytes with full confidence: beyond what RS can fix
    hits = np.ones(bits.size, np.int64)
    hits[: 8 * 20] = 0  # and 20 erased
    assert ecc.decode(llr, hits, layout) is None


def test_message_length_is_checked() -> None:
    with pytest.raises(BadInputError):
        ecc.encode(b"short", ecc.plan(100, 1.0))
