"""Phase-2 steps: gradients reach every trainable parameter, training lowers the loss, resume works."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from shared.model.recogniser import PairRecogniser
from shared.training.phase2 import Phase2Options, Phase2Trainer
from shared.training.state import STATE_FILE
from tests.unit.training.helpers import tiny_model_config, tiny_pool, tiny_train_config


def _trainer(
    tmp_path: Path, product: bool = True, steps: int = 1, recognise: bool = True, **kw: Any
) -> Phase2Trainer:
    torch.manual_seed(0)
    return Phase2Trainer(
        tiny_model_config(product),
        tiny_train_config(product, **kw),
        {"identity": PairRecogniser()} if recognise else {},
        tmp_path,
        Phase2Options(steps=steps, log_every=1, sample_every=1, critic_width=0.125),
    )


def _assert_all_grads(module: torch.nn.Module) -> None:
    missing = [
        n
        for n, p in module.named_parameters()
        if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)
    ]
    assert missing == []


@pytest.mark.parametrize("product", [True, False])
def test_every_trainable_parameter_gets_a_gradient_in_one_phase2_step(
    tmp_path: Path, product: bool
) -> None:
    trainer = _trainer(tmp_path, product)
    pool = tiny_pool()
    trainer.critic_step(pool)
    _assert_all_grads(trainer.critic)
    terms, images = trainer.generator_step(pool)
    _assert_all_grads(trainer.generator)
    assert {"rec", "adv_a", "adv_o", "ano", "con", "div", "hist"} <= set(terms)
    if product:
        assert {"wrong_key", "wrong_key_id", "struct"} <= set(terms) and "o_wrong" in images
    # Recognisers are frozen judges in phase 2.
    assert all(p.grad is None for r in trainer.recognisers.values() for p in r.parameters())


@pytest.mark.slow
def test_tiny_cpu_training_run_lowers_the_reconstruction_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    # No recognisers: reconstruction is what is measured, and they dominate the CPU time.
    trainer = _trainer(
        tmp_path,
        True,
        steps=25,
        recognise=False,
        lr_generator=3e-3,
        codec=False,
        w_wrong_key=0.0,
        w_wrong_key_id=0.0,
    )
    pool = tiny_pool()
    before = trainer.held_out_rec(pool)
    trainer.train(pool)
    after = trainer.held_out_rec(pool)
    assert after < 0.7 * before


def test_resume_continues_the_step_count_and_weights(tmp_path: Path) -> None:
    pool = tiny_pool()
    first = _trainer(tmp_path, True, steps=2)
    first.train(pool)
    assert (tmp_path / STATE_FILE).exists() and (tmp_path / "latest.pt").exists()
    resumed = Phase2Trainer.resume(tmp_path, replace(first.opts, steps=3))
    assert resumed.step == 2
    for (name, a), b in zip(
        first.generator.state_dict().items(), resumed.generator.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    resumed.train(pool)
    assert resumed.step == 3
    steps = [r["step"] for r in resumed.runlog.read() if "g_total" in r] if resumed.runlog else []
    assert steps == [1, 2, 3]


def test_training_writes_sample_grids_and_a_loadable_checkpoint(tmp_path: Path) -> None:
    from shared.model.inference import UUNetEngine

    trainer = _trainer(tmp_path, True, steps=1)
    trainer.train(tiny_pool(), held_out=tiny_pool(seed=1))
    assert list((tmp_path / "samples").glob("*.png"))
    engine = UUNetEngine.load(tmp_path / "latest.pt")
    assert engine.model_version.endswith("+steps1")
    out = engine.deidentify(torch.rand(2, 3, 64, 64), torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 3, 64, 64)


@pytest.mark.parametrize("product", [True, False])
def test_a_phase2_step_under_bf16_autocast_gives_finite_losses(
    tmp_path: Path, product: bool
) -> None:
    # CPU autocast stands in for the CUDA bf16 path (same code, same casts).
    trainer = _trainer(tmp_path, product)
    pool = tiny_pool()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        d_terms = trainer.critic_step(pool)
        g_terms, _ = trainer.generator_step(pool)
    values = [*d_terms.values(), *g_terms.values()]
    assert all(torch.isfinite(torch.tensor(v)) for v in values)
