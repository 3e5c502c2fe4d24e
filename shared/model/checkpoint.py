"""Checkpoints that carry their own config, id, version and training metadata (nanoGPT style).

File layout (a torch.save'd dict, loadable with ``weights_only=True``):
``{"format": FORMAT, "config": ModelConfig.to_dict(), "model_id", "version", "meta": {...},
"dtype": "float16"|"float32", "generator": state_dict, "extra": {...}}``.
The private half can be exported on its own (``part_to_bytes``) so a service can encrypt it apart;
``save_public_only`` drops it, so the public side ships a checkpoint that cannot restore faces.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from shared.domain.errors import ConfigError
from shared.model.config import ModelConfig

log = logging.getLogger(__name__)

FORMAT = "uunet-checkpoint/1"
PART_FORMAT = "uunet-part/1"
PARTS = ("public", "private")
# <repo>/models/default/uunet-default.pt, found relative to this file (shared/model/checkpoint.py).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "models" / "default" / "uunet-default.pt"

StateDict = dict[str, Tensor]


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: config, fp32 generator weights, training metadata, optional extras."""

    config: ModelConfig
    generator: StateDict
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return self.config.model_id

    @property
    def version(self) -> str:
        return self.config.version


def _cast(state: Mapping[str, Tensor], dtype: torch.dtype) -> StateDict:
    # Only floating tensors change type; BN's num_batches_tracked stays int64.
    return {
        k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu())
        for k, v in state.items()
    }


def save_checkpoint(path: Path, generator: nn.Module | Mapping[str, Tensor], config: ModelConfig,
                    meta: Mapping[str, Any] | None = None, half: bool = False,
                    extra: Mapping[str, Any] | None = None) -> Path:  # fmt: skip
    """Write atomically; half=True stores weights in fp16 (the shipped file), load casts back."""
    state = generator.state_dict() if isinstance(generator, nn.Module) else generator
    payload = {
        "format": FORMAT,
        "config": config.to_dict(),
        "model_id": config.model_id,
        "version": config.version,
        "meta": dict(meta or {}),
        "dtype": "float16" if half else "float32",
        "generator": _cast(state, torch.float16 if half else torch.float32),
        "extra": dict(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _read(source: Path | bytes, what: str) -> dict[str, Any]:
    try:
        handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
        data = torch.load(handle, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise ConfigError(f"{what} not found") from err
    except IsADirectoryError as err:
        raise ConfigError(f"{what} is a directory, not a file") from err
    except Exception as err:  # torch raises pickle/zip/runtime errors for damaged files
        log.debug("cannot read %s: %r", what, err)
        raise ConfigError(f"{what} is corrupt or not a UU-Net file") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{what} is not a UU-Net file (no header)")
    return data


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint; ConfigError with a one-line reason when missing, corrupt or foreign."""
    data = _read(Path(path), f"checkpoint {path}")
    if data.get("format") != FORMAT or "generator" not in data:
        raise ConfigError(f"checkpoint {path} is not a UU-Net checkpoint ({data.get('format')!r})")
    config = ModelConfig.from_dict(data["config"])
    return Checkpoint(
        config=config,
        generator=_cast(data["generator"], torch.float32),
        meta=dict(data.get("meta", {})),
        extra=dict(data.get("extra", {})),
    )


def split_state(ckpt: Checkpoint) -> tuple[StateDict, StateDict]:
    """(public_state, private_state), keys relative to each U-Net (no "public_net." prefix)."""
    parts: dict[str, StateDict] = {p: {} for p in PARTS}
    for key, value in ckpt.generator.items():
        head, _, rest = key.partition(".")
        part = head.removesuffix("_net")
        if part not in parts:
            raise ConfigError(f"checkpoint holds an unexpected tensor {key!r}")
        parts[part][rest] = value
    return parts["public"], parts["private"]


def save_public_only(ckpt: Checkpoint, path: Path, half: bool = False) -> Path:
    """Write ``ckpt`` with its private half removed (config, meta and extras kept)."""
    public, _private = split_state(ckpt)
    generator = {f"public_net.{key}": value for key, value in public.items()}
    meta = {**ckpt.meta, "parts": ["public"]}
    return save_checkpoint(path, generator, ckpt.config, meta, half, ckpt.extra)


def part_to_bytes(ckpt: Checkpoint, part: str, half: bool = False) -> bytes:
    """Serialise one half (with its config) so a service can store or encrypt it on its own."""
    if part not in PARTS:
        raise ConfigError(f"part must be one of {PARTS}, got {part!r}")
    state = split_state(ckpt)[PARTS.index(part)]
    buf = io.BytesIO()
    torch.save(
        {
            "format": PART_FORMAT,
            "part": part,
            "config": ckpt.config.to_dict(),
            "meta": ckpt.meta,
            "state": _cast(state, torch.float16 if half else torch.float32),
        },
        buf,
    )
    return buf.getvalue()


def part_from_bytes(data: bytes) -> tuple[ModelConfig, str, StateDict, dict[str, Any]]:
    """Inverse of part_to_bytes: (config, part, fp32 state, meta); ConfigError when damaged."""
    payload = _read(data, "model part")
    if payload.get("format") != PART_FORMAT or payload.get("part") not in PARTS:
        raise ConfigError("model part is not a UU-Net part file")
    config = ModelConfig.from_dict(payload["config"])
    return config, payload["part"], _cast(payload["state"], torch.float32), payload.get("meta", {})
