"""Phase 1: pair sampling and a tiny recogniser run that saves, reloads and beats chance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.domain.errors import ConfigError
from shared.training.config import Phase1Config
from shared.training.phase1 import all_pairs, load_recognisers, run_phase1
from tests.unit.training.helpers import tiny_pool


def test_all_pairs_are_balanced_ordered_and_never_self_pairs() -> None:
    images = torch.arange(8).float().view(8, 1, 1, 1).expand(8, 3, 2, 2)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    a, b, same = all_pairs(images, labels, torch.Generator().manual_seed(0))
    assert same.sum() == (1 - same).sum() == 24  # 2 classes x 4 x 3 ordered positives
    ia, ib = a[:, 0, 0, 0].long(), b[:, 0, 0, 0].long()
    assert (ia != ib).all()
    assert torch.equal(same.bool(), labels[ia] == labels[ib])
    _, _, capped = all_pairs(images, labels, torch.Generator().manual_seed(0), max_pairs=8)
    assert capped.numel() == 8 and capped.sum() == 4


@pytest.mark.slow
def test_tiny_phase1_run_saves_recognisers_that_reload_frozen(tmp_path: Path) -> None:
    pool = tiny_pool(subjects=4, per_session=3)
    cfg = Phase1Config(
        classes_per_batch=2,
        images_per_class=3,
        lr=1e-3,
        steps=4,
        eval_every=2,
        eval_pairs_batches=1,
    )
    aucs = run_phase1(pool, tiny_pool(subjects=3, per_session=3, seed=5), cfg, tmp_path / "rec.pt")
    assert set(aucs) == {"identity"} and 0.0 <= aucs["identity"] <= 1.0
    recs, meta = load_recognisers(tmp_path / "rec.pt")
    assert meta["auc"] == aucs
    assert not recs["identity"].training
    assert all(not p.requires_grad for p in recs["identity"].parameters())
    assert (tmp_path / "phase1.jsonl").read_text().count('"auc"') == 2


def test_loading_a_foreign_file_as_recognisers_is_a_config_error(tmp_path: Path) -> None:
    torch.save({"x": 1}, tmp_path / "foreign.pt")
    with pytest.raises(ConfigError, match="not a phase-1"):
        load_recognisers(tmp_path / "foreign.pt")
