"""Assets for the private-service integration tests: a key set, a tiny model, its encrypted private
module, signed public clips made by the real pipeline (face regions sealed; regions and the original
file sealed; sealed to another authority), a tampered copy, and a token issuer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import jwt
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.video.types import FaceBox

ISSUER = "https://issuer.integration.test"
AUDIENCE = "uunet-private-it"


@dataclass(frozen=True)
class ReidAssets:
    """Files on disk the private service needs, and the clips to send it."""

    keys_dir: Path
    weights_key: Path
    encrypted_weights: Path
    issuer_pub: Path
    issuer_key: Ed25519PrivateKey
    source: Path
    boxes: list[list[FaceBox]]
    public_clip: Path
    tampered_clip: Path
    both_clip: Path  # --seal both: the original file can be asked for
    foreign_seal_clip: Path  # signed by this key set, sealed to another authority

    def token(self, case: str = "CASE-1", **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "officer-it",
            "iat": now,
            "exp": now + 600,
            "scope": "reconstruct",
            "case_id": case,
        } | overrides
        return jwt.encode(claims, self.issuer_key, algorithm="EdDSA")


def make_assets(root: Path) -> ReidAssets:
    """Build everything with the real key set, model checkpoint, weights encryption and pipeline."""
    from shared.crypto.keys import PublicSideKeys, init_keyset
    from shared.crypto.weights import encrypt_weights, generate_key_file, load_key_file
    from shared.model.checkpoint import load_checkpoint, part_to_bytes, save_checkpoint
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine
    from shared.pipeline.api import DeidOptions, deidentify_clip
    from shared.video.synthetic import SceneSpec, write_clip

    keys_dir = root / "keys"
    init_keyset(keys_dir)
    config = ModelConfig.product(width=0.125)
    checkpoint = save_checkpoint(
        root / "tiny.pt", UUNetEngine.from_config(config, seed=3).generator, config
    )
    weights_key = root / "weights.key"
    generate_key_file(weights_key)
    encrypted = root / "private.enc"
    plain = part_to_bytes(load_checkpoint(checkpoint), "private")
    encrypted.write_bytes(encrypt_weights(plain, load_key_file(weights_key), {"part": "private"}))
    issuer_key = Ed25519PrivateKey.generate()
    issuer_pub = root / "issuer.pub.pem"
    issuer_pub.write_bytes(
        issuer_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    source = root / "source.mp4"
    spec = SceneSpec(160, 120, frames=12, fps=Fraction(25), face_px=(44, 48), speed_px=2.5)
    boxes = write_clip(source, spec)
    public_clip = root / "public.mp4"
    engine = UUNetEngine.load(checkpoint, part="public")
    deidentify_clip(source, public_clip, PublicSideKeys.load(keys_dir), engine, DeidOptions())
    data = bytearray(public_clip.read_bytes())
    data[len(data) // 3] ^= 0x01
    tampered = root / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    both = root / "both.mp4"
    deidentify_clip(source, both, PublicSideKeys.load(keys_dir), engine, DeidOptions(seal="both"))
    foreign = root / "foreign.mp4"
    deidentify_clip(source, foreign, _foreign_authority(keys_dir), engine, DeidOptions())
    return ReidAssets(
        keys_dir,
        weights_key,
        encrypted,
        issuer_pub,
        issuer_key,
        source,
        boxes,
        public_clip,
        tampered,
        both,
        foreign,
    )


def _foreign_authority(keys_dir: Path) -> Any:
    """The public side of ``keys_dir`` sealing to another authority's key."""
    import dataclasses

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from shared.crypto.keys import PublicSideKeys

    keys = PublicSideKeys.load(keys_dir)
    return dataclasses.replace(keys, authority_public=X25519PrivateKey.generate().public_key())


def frames_of(path: Path) -> np.ndarray:
    """Every frame as RGB uint8, [T,H,W,3]."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def face_error(reference: np.ndarray, other: np.ndarray, boxes: list[list[FaceBox]]) -> float:
    """Mean absolute difference inside the ground-truth face boxes."""
    diffs = []
    for t, frame_boxes in enumerate(boxes):
        for b in frame_boxes:
            x0, y0, x1, y1 = int(b.x0), int(b.y0), int(b.x1), int(b.y1)
            a = reference[t, y0:y1, x0:x1].astype(np.float32)
            c = other[t, y0:y1, x0:x1].astype(np.float32)
            diffs.append(float(np.abs(a - c).mean()))
    return float(np.mean(diffs))
