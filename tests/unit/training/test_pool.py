"""Training pools: labelled folders keep identities, sessions and attributes; splits are disjoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from shared.training.pool_builder import pool_from_folder
from tests.unit.training.helpers import tiny_pool


def test_a_labelled_folder_becomes_a_pool_with_attribute_traits(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for ident, beard in ((1, 0), (2, 1), (3, 1)):
        for session in ("13-11-2019-2-4", "14-11-2019-1-1"):
            for frame in range(2):
                name = f"{session}_{frame}_{ident}_1_3_0_4_{beard}_-1_00.png"
                Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(
                    tmp_path / name
                )
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(
        tmp_path / "13-11-2019-2-4_9_-1_1_3_0_4_1_1_00.png"
    )
    pool = pool_from_folder(tmp_path, seed=0)
    assert pool.images.shape == (12, 3, 64, 64)  # the unknown identity is left out
    assert "beard" in pool.traits and "moustache" not in pool.traits  # all -1: no classes
    images, labels = pool.class_batch("beard", classes=2, per_class=3)
    assert images.shape[0] == 6 and set(labels.tolist()) == {0, 1}
    x1, x2, ids = pool.paired_batch(2, 2)
    assert x1.shape == x2.shape == (4, 3, 64, 64) and ids[0] == ids[1]


def test_split_holds_out_whole_identities() -> None:
    train, held = tiny_pool(subjects=6).split(0.34)
    assert not set(train.identity.tolist()) & set(held.identity.tolist())
    assert len(set(held.identity.tolist())) == 2
    assert torch.equal(
        torch.cat([train.identity, held.identity]).sort().values,
        tiny_pool(subjects=6).identity.sort().values,
    )
