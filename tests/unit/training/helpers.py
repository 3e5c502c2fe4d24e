"""Tiny fixtures shared by the training tests: a structured random pool and tiny configs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from shared.model.config import ModelConfig
from shared.training.config import TrainConfig
from shared.training.sources import TensorPool


def tiny_pool(subjects: int = 4, per_session: int = 4, seed: int = 0) -> TensorPool:
    """Per-subject smooth colour blobs (so there is something learnable), two sessions each."""
    g = torch.Generator().manual_seed(seed)
    imgs, ids, sess = [], [], []
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    for s in range(subjects):
        colour = torch.rand(3, 1, 1, generator=g)
        for session in range(2):
            for _ in range(per_session):
                cx, cy = (torch.rand(2, generator=g) - 0.5) * 0.4
                blob = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.3)
                img = (colour * blob + 0.1 * torch.rand(3, 64, 64, generator=g)).clamp(0, 1)
                imgs.append(img)
                ids.append(s)
                sess.append(session)
    images = (torch.stack(imgs) * 255).round().to(torch.uint8)
    return TensorPool(
        images=images, identity=torch.tensor(ids), session=torch.tensor(sess), seed=seed
    )


def tiny_train_config(product: bool = True, **kw: Any) -> TrainConfig:
    """2 subjects x 2 images, one critic step: seconds on CPU."""
    base = TrainConfig.product() if product else TrainConfig.reference()
    return replace(base, subjects=2, images_per_subject=2, critic_steps=1, curriculum_steps=0, **kw)


def tiny_model_config(product: bool = True) -> ModelConfig:
    """Width 1/16 (channels 4..32)."""
    if product:
        return ModelConfig.product(0.0625)
    return replace(ModelConfig.faithful_preset(), width=0.0625)
