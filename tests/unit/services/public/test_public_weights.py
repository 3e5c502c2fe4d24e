"""The public side never holds the private module: the worker loads a public-only checkpoint, made
by ``uunet weights export --part public``, and refuses any file that still carries a private half."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from services.public_deid import bootstrap
from services.public_deid.settings import PublicSettings
from shared.crypto.keys import init_keyset
from shared.domain.errors import ConfigError
from shared.model.checkpoint import load_checkpoint, save_checkpoint, split_state
from shared.model.config import ModelConfig
from shared.model.inference import UUNetEngine
from uunet_cli.main import main as uunet


@pytest.fixture(scope="module")
def full_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real checkpoint holding both modules, as training writes it."""
    config = ModelConfig.product(width=0.0625)
    path = tmp_path_factory.mktemp("ckpt") / "both.pt"
    return save_checkpoint(path, UUNetEngine.from_config(config, seed=5).generator, config)


def _settings(tmp_path: Path, checkpoint: Path | None) -> PublicSettings:
    keys = tmp_path / "keys"
    if not keys.exists():
        init_keyset(keys)
    return PublicSettings(dev=True, keys_dir=keys, checkpoint=checkpoint)


def _export(src: Path, dst: Path) -> None:
    argv = ["weights", "export", "--part", "public", "--checkpoint", str(src), "-o", str(dst)]
    assert uunet(argv) == 0


def test_public_worker_refuses_a_checkpoint_that_carries_the_private_half(
    tmp_path: Path, full_checkpoint: Path
) -> None:
    with pytest.raises(ConfigError, match="carries the private module"):
        bootstrap.load_deidentify(_settings(tmp_path, full_checkpoint))


def test_public_worker_does_not_fall_back_to_the_shipped_two_module_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="UUNET_PUBLIC_CHECKPOINT"):
        bootstrap.load_deidentify(_settings(tmp_path, None))


def test_exported_public_checkpoint_holds_the_public_half_only(
    tmp_path: Path, full_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "public.pt"
    _export(full_checkpoint, out)
    assert "public module" in capsys.readouterr().out
    public, private = split_state(load_checkpoint(out))
    original_public, original_private = split_state(load_checkpoint(full_checkpoint))
    assert private == {} and original_private
    assert public.keys() == original_public.keys()
    assert all(torch.equal(public[k], original_public[k]) for k in public)
    # The worker takes it, and nothing loaded from it can restore.
    assert bootstrap.load_deidentify(_settings(tmp_path, out))
    assert not UUNetEngine.load(out, part="both").has_part("private")


def test_the_private_half_cannot_be_exported_in_the_clear(
    tmp_path: Path, full_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["weights", "export", "--part", "private", "--checkpoint", str(full_checkpoint)]
    with pytest.raises(SystemExit) as exit_:
        uunet([*argv, "-o", str(tmp_path / "p.pt")])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "p.pt").exists()
