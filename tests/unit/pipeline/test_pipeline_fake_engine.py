"""deidentify_clip / reidentify_clip in-process with an invertible fake engine (the model port):
learned restoration re-crops exactly the squares that were replaced, with the same keyed noise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset
from shared.domain.errors import TamperedError
from shared.pipeline.api import (
    DeidOptions,
    ReidOptions,
    deidentify_clip,
    reidentify_clip,
    verify_clip,
)
from shared.video.decode import iter_frames
from shared.video.synthetic import SceneSpec, write_clip


class InvertingEngine:
    """De-identify = colour inversion; restore = inversion again. Records the noise it saw."""

    model_id, model_version, crop_size, keyed = "fake-invert", "1", 64, True

    def __init__(self) -> None:
        self.noise_seen: list[torch.Tensor] = []

    def check_attributes(self, attributes: Mapping[str, str] | None) -> None:
        return None

    def deidentify(
        self, crops: torch.Tensor, noise: torch.Tensor, attributes: object = None
    ) -> torch.Tensor:
        self.noise_seen.append(noise)
        return 1.0 - crops

    def restore(self, surrogates: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        self.noise_seen.append(noise)
        return 1.0 - surrogates


def _frames(path: Path) -> np.ndarray:
    return np.concatenate([b.frames for b in iter_frames(path)])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-10))


@pytest.fixture(scope="module")
def clip_and_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    root = tmp_path_factory.mktemp("fake")
    clip = root / "in.mp4"
    truth = write_clip(clip, SceneSpec(160, 120, frames=10, n_faces=1, face_px=(44, 48), seed=2))
    return clip, init_keyset(root / "keys").path, truth


def test_learned_restoration_inverts_the_fake_engine_in_the_same_squares(
    clip_and_keys: tuple[Path, Path, list], tmp_path: Path
) -> None:
    clip, keys, truth = clip_and_keys
    engine = InvertingEngine()
    progress: list[float] = []
    report = deidentify_clip(clip, tmp_path / "pub.mp4", PublicSideKeys.load(keys), engine,
                             DeidOptions(seal="none"), progress.append)  # fmt: skip
    assert report.frames == 10 and report.faces == 10 and report.tracks == 1 and not report.sealed
    assert progress[-1] == 1.0 and progress == sorted(progress)
    deid_noise = torch.cat(engine.noise_seen)
    engine.noise_seen.clear()
    back = reidentify_clip(tmp_path / "pub.mp4", tmp_path / "back.mp4", PrivateSideKeys.load(keys),
                           engine, ReidOptions(mode="learned"))  # fmt: skip
    assert back.mode_used == "learned" and back.faces_restored == 10
    assert torch.equal(torch.cat(engine.noise_seen)[:1], deid_noise[:1])  # same keyed noise
    orig, pub, rest = _frames(clip), _frames(tmp_path / "pub.mp4"), _frames(tmp_path / "back.mp4")
    boxes = [[round(v) for v in (f[0].x0, f[0].y0, f[0].x1, f[0].y1)] for f in truth]
    faces = [(t, slice(y0, y1), slice(x0, x1)) for t, (x0, y0, x1, y1) in enumerate(boxes)]
    o = np.concatenate([orig[f].reshape(-1) for f in faces])
    p_pub = _psnr(o, np.concatenate([pub[f].reshape(-1) for f in faces]))
    p_back = _psnr(o, np.concatenate([rest[f].reshape(-1) for f in faces]))
    print(f"fake invertible engine: face PSNR public {p_pub:.2f} dB, learned back {p_back:.2f} dB")
    # A perfect inverse still loses detail in the 64x64 crop round trip (~26 dB at this face size).
    assert p_pub < 15.0 and p_back > 24.0  # inverted, then inverted back in the same squares


def test_manifest_verifies_and_a_flipped_byte_does_not(
    clip_and_keys: tuple[Path, Path, list], tmp_path: Path
) -> None:
    clip, keys, _ = clip_and_keys
    out = tmp_path / "pub.mp4"
    deidentify_clip(clip, out, PublicSideKeys.load(keys), InvertingEngine(), DeidOptions())
    manifest = verify_clip(out, PrivateSideKeys.load(keys).verify_key)
    assert manifest.sealed and manifest.model_id == "fake-invert" and manifest.frames == 10
    data = bytearray(out.read_bytes())
    data[len(data) // 3] ^= 0x20
    out.write_bytes(bytes(data))
    with pytest.raises(TamperedError):
        verify_clip(out, PrivateSideKeys.load(keys).verify_key)


def test_odd_sized_clip_round_trips(tmp_path: Path) -> None:
    clip = tmp_path / "odd.mp4"
    write_clip(clip, SceneSpec(161, 121, frames=4, n_faces=1, face_px=(40, 50), pix_fmt="yuv444p"))
    keys = init_keyset(tmp_path / "keys").path
    engine = InvertingEngine()
    deid = deidentify_clip(clip, tmp_path / "pub.mp4", PublicSideKeys.load(keys), engine,
                           DeidOptions())  # fmt: skip
    assert deid.frames == 4 and deid.faces == 4
    back = reidentify_clip(tmp_path / "pub.mp4", tmp_path / "back.mp4",
                           PrivateSideKeys.load(keys), engine, ReidOptions())  # fmt: skip
    assert back.mode_used == "sealed" and back.faces_restored == 4 and back.frames == 4
