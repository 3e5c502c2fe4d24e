"""Trainer state for resume: weights, optimisers, step and configs in one torch file per run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from shared.domain.errors import ConfigError

FORMAT = "uunet-train-state/1"
STATE_FILE = "state.pt"


@dataclass
class TrainState:
    """Everything phase 2 needs to continue where it stopped."""

    step: int
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    generator: dict[str, Any]
    critic: dict[str, Any]
    opt_g: dict[str, Any]
    opt_d: dict[str, Any]
    recognisers: dict[str, Any]
    s_vector: dict[str, int]
    critic_width: float = 1.0
    elapsed_s: float = 0.0
    best_rec: float = float("inf")
    extra: dict[str, Any] = field(default_factory=dict)


def save_state(path: Path, state: TrainState) -> Path:
    """Write atomically (a crash mid-write keeps the previous state)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **state.__dict__}, tmp)
    os.replace(tmp, path)
    return path


def load_state(path: Path) -> TrainState:
    """Read a state file; ConfigError with a one-line reason when missing or foreign."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise ConfigError(f"no training state at {path}") from err
    except Exception as err:
        raise ConfigError(f"training state {path} is corrupt") from err
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        raise ConfigError(f"{path} is not a UU-Net training state")
    try:
        return TrainState(**data)
    except TypeError as err:
        raise ConfigError(f"training state {path} has unexpected fields: {err}") from err
