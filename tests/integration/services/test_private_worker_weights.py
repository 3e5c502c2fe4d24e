"""The private worker opens its module only from the encrypted weights with the right key, and
fails fast with a one-line reason otherwise (also as ``python -m services.private_reid worker``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.private_reid import bootstrap
from services.private_reid.settings import PrivateSettings
from shared.crypto.keys import init_keyset
from shared.crypto.weights import encrypt_weights, generate_key_file, load_key_file
from shared.domain.errors import ConfigError, TamperedError, WrongKeyError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from shared.model.checkpoint import load_checkpoint, part_to_bytes, save_checkpoint
    from shared.model.config import ModelConfig
    from shared.model.inference import UUNetEngine

    root = tmp_path_factory.mktemp("weights")
    init_keyset(root / "keys")
    config = ModelConfig.product(width=0.125)
    ckpt = load_checkpoint(
        save_checkpoint(root / "tiny.pt", UUNetEngine.from_config(config).generator, config)
    )
    for name in ("right.key", "wrong.key"):
        generate_key_file(root / name)
    key = load_key_file(root / "right.key")
    (root / "private.enc").write_bytes(encrypt_weights(part_to_bytes(ckpt, "private"), key))
    (root / "public.enc").write_bytes(encrypt_weights(part_to_bytes(ckpt, "public"), key))
    blob = bytearray((root / "private.enc").read_bytes())
    blob[-100] ^= 0x40
    (root / "edited.enc").write_bytes(bytes(blob))
    return {p.name: p for p in root.iterdir()}


def _settings(files: dict[str, Path], weights: str, key: str | None) -> PrivateSettings:
    return PrivateSettings(
        dev=True,
        keys_dir=files["keys"],
        jwt_public_key_file=None,
        weights_key_file=files[key] if key else None,
        encrypted_weights=files[weights],
    )


def test_right_key_loads_only_the_private_module(files: dict[str, Path]) -> None:
    engine = bootstrap.load_private_engine(_settings(files, "private.enc", "right.key"))
    assert engine.has_part("private") and not engine.has_part("public")


@pytest.mark.parametrize(
    ("weights", "key", "error", "words"),
    [
        ("private.enc", "wrong.key", WrongKeyError, "encrypted under key"),
        ("private.enc", None, ConfigError, "WEIGHTS_KEY_FILE"),
        ("edited.enc", "right.key", TamperedError, "failed authentication"),
        ("public.enc", "right.key", ConfigError, "not the private one"),
    ],
)
def test_bad_weights_setup_fails_fast(
    files: dict[str, Path], weights: str, key: str | None, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        bootstrap.load_private_engine(_settings(files, weights, key))


@pytest.mark.slow
def test_worker_process_with_the_wrong_key_exits_with_one_line(files: dict[str, Path]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UUNET_")}
    env |= {
        "UUNET_PRIVATE_DEV": "true",
        "UUNET_PRIVATE_KEYS_DIR": str(files["keys"]),
        "UUNET_PRIVATE_WEIGHTS_KEY_FILE": str(files["wrong.key"]),
        "UUNET_PRIVATE_ENCRYPTED_WEIGHTS": str(files["private.enc"]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.private_reid", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("private_reid worker: error: weights were")
