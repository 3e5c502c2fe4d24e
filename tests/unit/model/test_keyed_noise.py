"""Keyed noise: deterministic per (key, clip, track), different otherwise, uniform in [0,1)."""

from __future__ import annotations

import pytest
import torch

from shared.domain.errors import BadInputError, ConfigError
from shared.model.keyed_noise import random_noise, track_noise, track_seed

KEY = b"k" * 32


def test_same_key_clip_and_track_give_the_same_noise() -> None:
    assert torch.equal(track_noise(KEY, "clip", 3), track_noise(KEY, "clip", 3))


def test_another_track_clip_or_key_gives_other_noise() -> None:
    base = track_noise(KEY, "clip", 3)
    assert not torch.equal(base, track_noise(KEY, "clip", 4))
    assert not torch.equal(base, track_noise(KEY, "clip2", 3))
    assert not torch.equal(base, track_noise(b"j" * 32, "clip", 3))


def test_noise_is_uniform_in_unit_interval_with_the_asked_size() -> None:
    n = track_noise(KEY, "clip", 0, size=64)
    assert n.shape == (1, 1, 64, 64) and n.dtype == torch.float32
    assert float(n.min()) >= 0.0 and float(n.max()) < 1.0
    assert abs(float(n.mean()) - 0.5) < 0.03


def test_seed_fits_63_bits_and_matches_hmac() -> None:
    import hashlib
    import hmac

    seed = track_seed(KEY, "c", 7)
    want = int.from_bytes(hmac.new(KEY, b"c/7", hashlib.sha256).digest()[:8], "big") >> 1
    assert seed == want and 0 <= seed < 2**63


def test_bad_key_or_track_is_refused() -> None:
    with pytest.raises(ConfigError):
        track_seed(b"", "c", 1)
    with pytest.raises(BadInputError):
        track_seed(KEY, "c", -1)


def test_random_noise_is_fresh_per_image() -> None:
    n = random_noise(2, 64, torch.Generator().manual_seed(0))
    assert n.shape == (2, 1, 64, 64) and not torch.equal(n[0], n[1])
