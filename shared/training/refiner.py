"""Training the donor refiner (the learned step of the public module), stable terms first.

Per step, on a batch of (original x, composite c, mask m) from ``refiner_data``, the refiner gives
r = refine(x, c, m) (c plus a bounded residual inside m) and is trained on:
- anchor: L1(r, c) inside the mask: stay the classical composite unless a term says otherwise;
- away: the frozen phase-1 identity recogniser says "different" for (x, r): hide the person;
- donor: the recogniser says "same" for (c, r): keep the donor's identity, do not drift to a third;
- structure: 8x8-pooled luminance of r close to x's inside the mask (expression, light); coarse on
  purpose: the original's finer shading carries identity (EXPERIMENTS.md: de-id 0.57 when kept);
- adversarial (LSGAN PatchGAN, from ``adv_from`` steps on): r should look like a real face crop.
The dlib judge is never used here: it stays the independent test (``uunet eval``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from shared.model.checkpoint import save_checkpoint
from shared.model.config import ModelConfig
from shared.model.critic import PatchCritic
from shared.model.recogniser import PairRecogniser
from shared.model.unet import UUNetGenerator
from shared.training.refiner_data import RefinerPool
from shared.training.runlog import RunLog

log = logging.getLogger(__name__)

STATE_FORMAT = "uunet-refiner-state/1"


@dataclass(frozen=True)
class RefinerConfig:
    """Steps, batch, optimiser and loss weights (stored in the run and in the exported meta)."""

    width: float = 0.125
    steps: int = 3000
    batch: int = 32
    lr: float = 2e-4
    w_anchor: float = 10.0
    w_away: float = 1.0
    w_donor: float = 0.5
    w_struct: float = 2.0
    w_adv: float = 0.1
    adv_from: int = 1000  # the adversarial term joins once the stable terms have settled
    critic_width: float = 0.25
    seed: int = 0
    log_every: int = 20
    save_every_s: float = 120.0


def _lum(x: Tensor) -> Tensor:
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).contiguous()


def _masked_l1(a: Tensor, b: Tensor, m: Tensor) -> Tensor:
    return ((a - b).abs() * m).sum() / (m.sum() * a.shape[1]).clamp_min(1.0)


def refiner_losses(gen: UUNetGenerator, rec: PairRecogniser, x: Tensor, c: Tensor, m: Tensor,
                   cfg: RefinerConfig) -> tuple[Tensor, dict[str, Tensor], Tensor]:  # fmt: skip
    """(weighted total without the adversarial term, parts, refined batch)."""
    r = gen.refine(x, c, m)
    n = x.shape[0]
    parts = {
        "anchor": _masked_l1(r, c, m),
        "away": F.binary_cross_entropy_with_logits(rec.logits(x, r), torch.zeros(n)),
        "donor": F.binary_cross_entropy_with_logits(rec.logits(c, r), torch.ones(n)),
        "struct": _masked_l1(
            F.avg_pool2d(_lum(r), 8), F.avg_pool2d(_lum(x), 8), F.avg_pool2d(m, 8)
        ),
    }
    total = (cfg.w_anchor * parts["anchor"] + cfg.w_away * parts["away"]
             + cfg.w_donor * parts["donor"] + cfg.w_struct * parts["struct"])  # fmt: skip
    return total, parts, r


@torch.no_grad()
def held_out(gen: UUNetGenerator, rec: PairRecogniser, pool: RefinerPool,
             cfg: RefinerConfig) -> dict[str, float]:  # fmt: skip
    """Mean losses on the held-out pool, and the recogniser's P(same person) for the original
    against the composite and against the refinement (lower is better hidden)."""
    gen.eval()
    idx = torch.arange(len(pool))
    x, c, m = pool.batch(idx)
    _, parts, r = refiner_losses(gen, rec, x, c, m, cfg)
    out = {k: float(v) for k, v in parts.items()}
    out["p_same_composite"] = float(rec(x, c).mean())
    out["p_same_refined"] = float(rec(x, r).mean())
    gen.train()
    return out


def _save_state(path: Path, step: int, gen: UUNetGenerator, critic: PatchCritic,
                opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer], cfg: RefinerConfig,
                elapsed: float) -> None:  # fmt: skip
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": STATE_FORMAT, "step": step, "gen": gen.state_dict(),
                "critic": critic.state_dict(), "opt_g": opts[0].state_dict(),
                "opt_d": opts[1].state_dict(), "config": dataclasses.asdict(cfg),
                "elapsed_s": elapsed}, tmp)  # fmt: skip
    os.replace(tmp, path)


def train_refiner(pool: RefinerPool, val: RefinerPool, rec: PairRecogniser, out_dir: Path,
                  cfg: RefinerConfig, resume: bool = False) -> Path:  # fmt: skip
    """Train (or continue), writing ``state.pt``, ``log.jsonl`` and ``latest.pt`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    config = ModelConfig.donor(cfg.width)
    gen = UUNetGenerator(config, parts=("public",))
    critic = PatchCritic(width=cfg.critic_width)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    step, elapsed = 0, 0.0
    state_path = out_dir / "state.pt"
    if resume and state_path.exists():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        gen.load_state_dict(st["gen"])
        critic.load_state_dict(st["critic"])
        opt_g.load_state_dict(st["opt_g"])
        opt_d.load_state_dict(st["opt_d"])
        step, elapsed = int(st["step"]), float(st["elapsed_s"])
        log.info("resumed at step %d", step)
    runlog = RunLog(out_dir / "log.jsonl")
    gen.train()
    rng = torch.Generator().manual_seed(cfg.seed + step)
    t0, last_save = time.monotonic() - elapsed, time.monotonic()
    while step < cfg.steps:
        x, c, m = pool.batch(torch.randint(0, len(pool), (cfg.batch,), generator=rng))
        total, parts, r = refiner_losses(gen, rec, x, c, m, cfg)
        adv_on = step >= cfg.adv_from
        if adv_on:
            fake = critic.logits(r)
            parts["adv"] = ((fake - 1.0) ** 2).mean()
            total = total + cfg.w_adv * parts["adv"]
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        opt_g.step()
        if adv_on or step >= cfg.adv_from - 200:  # warm the critic up before it is used
            real, fake_d = critic.logits(x), critic.logits(r.detach())
            d_loss = ((real - 1.0) ** 2).mean() + (fake_d**2).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            parts["critic"] = d_loss.detach()
        step += 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            row: dict[str, Any] = {
                "step": step,
                **{k: round(float(v.detach()), 5) for k, v in parts.items()},
            }
            if step % (cfg.log_every * 10) == 0 or step == cfg.steps:
                row["held_out"] = {k: round(v, 5) for k, v in held_out(gen, rec, val, cfg).items()}
            runlog.write(row)
        if time.monotonic() - last_save > cfg.save_every_s or step == cfg.steps:
            _save_state(state_path, step, gen, critic, (opt_g, opt_d), cfg,
                        time.monotonic() - t0)  # fmt: skip
            last_save = time.monotonic()
    meta = {"refine": True, "train": {**dataclasses.asdict(cfg), "minutes": round(
        (time.monotonic() - t0) / 60, 1)}}  # fmt: skip
    return save_checkpoint(out_dir / "latest.pt", gen, config, meta=meta)
