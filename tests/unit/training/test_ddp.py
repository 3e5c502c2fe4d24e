"""torchrun-style DDP on CPU: two gloo processes train a tiny model and stay in sync."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(world),
         "RANK": str(rank), "LOCAL_RANK": str(rank)}
    )  # fmt: skip
    torch.set_num_threads(1)
    from shared.model.recogniser import PairRecogniser
    from shared.training import ddp
    from shared.training.phase2 import Phase2Options, Phase2Trainer
    from tests.unit.training.helpers import tiny_model_config, tiny_pool, tiny_train_config

    ctx = ddp.init_distributed("cpu")
    torch.manual_seed(0)  # same recogniser everywhere; trainer seeds per rank for data/noise
    trainer = Phase2Trainer(
        tiny_model_config(),
        tiny_train_config(),
        {"identity": PairRecogniser()},
        Path(out),
        Phase2Options(steps=2, log_every=1, sample_every=100, critic_width=0.125),
        ctx,
    )
    trainer.train(tiny_pool(seed=rank))
    torch.save(trainer.generator.state_dict(), Path(out) / f"rank{rank}.pt")
    ddp.shutdown(ctx)


@pytest.mark.slow
def test_two_process_gloo_ddp_keeps_generator_weights_identical(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in a:
        if a[key].is_floating_point() and "running" not in key:
            assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert (tmp_path / "state.pt").exists()  # rank 0 checkpointed
