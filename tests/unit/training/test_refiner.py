"""The donor refiner trains on the product's own composites, resumes, and exports a model the
pipeline loads (tiny sizes: this checks the machinery, not the quality)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from shared.model.recogniser import PairRecogniser
from shared.surrogate.donors import DEFAULT_BANK, load_bank
from shared.surrogate.model import DonorFaceModel, load_face_model
from shared.training.phase1 import freeze
from shared.training.refiner import RefinerConfig, train_refiner
from shared.training.refiner_data import build_pool

pytestmark = pytest.mark.skipif(not DEFAULT_BANK.exists(), reason="no shipped donor bank")


@pytest.fixture(scope="module")
def pool():  # type: ignore[no-untyped-def]
    return build_pool(load_bank(None), 20, seed=3)


def test_pool_holds_originals_composites_and_masks(pool) -> None:  # type: ignore[no-untyped-def]
    assert len(pool) == 20
    assert pool.x.shape == pool.comp.shape == pool.x2.shape == (20, 3, 64, 64)
    assert pool.mask.shape == (20, 1, 64, 64)
    assert float(pool.mask.min()) >= 0.0 and float(pool.mask.max()) <= 1.0
    assert float(pool.mask.mean()) > 0.1  # the face is covered
    inside = pool.mask > 0.5
    assert float((pool.x - pool.comp).abs()[inside.expand_as(pool.x)].mean()) > 0.03  # a new face


def test_refiner_trains_resumes_and_exports_a_loadable_model(pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec = freeze(PairRecogniser())
    train, val = pool.split(0.2)
    cfg = RefinerConfig(steps=4, batch=4, adv_from=2, log_every=2, save_every_s=0.0)
    train_refiner(train, val, rec, tmp_path, cfg)
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 4 and "adv" in rows[-1] and "held_out" in rows[-1]
    assert all(torch.isfinite(torch.tensor(v)) for v in rows[-1]["held_out"].values())
    train_refiner(train, val, rec, tmp_path, RefinerConfig(steps=6, batch=4, log_every=2,
                                                           save_every_s=0.0), resume=True)  # fmt: skip
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]  # continued from step 4, not from 0
    model = load_face_model(tmp_path / "latest.pt")
    assert isinstance(model, DonorFaceModel) and model.refine
    x, c, m = val.batch(torch.arange(len(val)))
    out = model.engine.refine(x, c, m)
    assert out.shape == c.shape
    outside = (m == 0).expand_as(c)
    assert float((out - c).abs()[outside].max()) < 1e-6  # nothing changes outside the mask
    assert float((out - c).abs().max()) <= model.engine.config.refine_delta + 1e-6


def test_inner_face_recogniser_trains_on_the_pool(pool) -> None:  # type: ignore[no-untyped-def]
    from shared.training.refiner_recogniser import train_inner_recogniser

    train, val = pool.split(0.25)
    rec, aucs = train_inner_recogniser(train, val, steps=3, batch=4)
    assert set(aucs) == {"auc_vs_composite", "auc_vs_other_person", "p_same_composite"}
    assert all(0.0 <= v <= 1.0 for v in aucs.values())
    assert not any(p.requires_grad for p in rec.parameters())  # frozen for the refiner
