"""Noise for the UU-Net's fourth input channel: keyed per track (product) or random per image (reference).

The keyed noise is the product's secret: only who holds the key can rebuild it, and the private module
needs it to restore a face. One seed per track keeps a surrogate stable along the track.
"""

from __future__ import annotations

import hashlib
import hmac

import torch

from shared.domain.errors import BadInputError, ConfigError


def track_seed(key: bytes, clip_id: str, track_id: int) -> int:
    """HMAC-SHA256(key, f"{clip_id}/{track_id}") -> a 63-bit non-negative int."""
    if not isinstance(key, bytes | bytearray) or len(key) == 0:
        raise ConfigError("the de-identification key is empty or not bytes")
    if not isinstance(track_id, int) or isinstance(track_id, bool) or track_id < 0:
        raise BadInputError(f"track id must be a non-negative int, got {track_id!r}")
    digest = hmac.new(bytes(key), f"{clip_id}/{track_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: fits torch's int64 seed


def track_noise(key: bytes, clip_id: str, track_id: int, size: int = 64) -> torch.Tensor:
    """[1,1,size,size] float32 uniform in [0,1), deterministic for (key, clip, track), on CPU."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(track_seed(key, clip_id, track_id))
    return torch.rand(1, 1, size, size, generator=gen, dtype=torch.float32)


def random_noise(n: int, size: int = 64, generator: torch.Generator | None = None) -> torch.Tensor:
    """[n,1,size,size] float32 uniform in [0,1), fresh per image (the reference's behaviour), on CPU."""
    return torch.rand(n, 1, size, size, generator=generator, dtype=torch.float32)
