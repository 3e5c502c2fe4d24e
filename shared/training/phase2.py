"""Phase 2: train the UU-Net against the critic and the frozen phase-1 recognisers.

Per generator step the critic takes ``critic_steps`` steps (fresh batches, gradient penalty), then the
generator takes one (see ``steps.GeneratorLoss`` for the terms). Rank 0 logs JSONL, writes sample
grids and checkpoints; ``resume`` continues from ``state.pt`` with the step count intact.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from shared.model.checkpoint import save_checkpoint
from shared.model.config import ATTRIBUTES, ModelConfig
from shared.model.critic import PatchCritic
from shared.model.recogniser import PairRecogniser
from shared.model.unet import UUNetGenerator
from shared.training import ddp
from shared.training.config import TrainConfig
from shared.training.phase1 import freeze
from shared.training.runlog import RunLog
from shared.training.samples import save_grid
from shared.training.sources import TensorPool
from shared.training.state import STATE_FILE, TrainState, load_state, save_state
from shared.training.steps import CriticLoss, GeneratorLoss

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Phase2Options:
    """How long and how often (not part of the learning recipe, so not in TrainConfig)."""

    steps: int = 1000
    max_seconds: float = float("inf")
    log_every: int = 10
    sample_every: int = 100
    checkpoint_every_s: float = 300.0
    critic_width: float = 1.0


def s_vector(config: ModelConfig, traits: list[str]) -> dict[str, int]:
    """S per trait: identity always -1 (change); attributes +1 for "keep", -1 otherwise."""
    policy = config.policy()
    return {t: (1 if t in ATTRIBUTES and policy.get(t) == "keep" else -1) for t in traits}


class Phase2Trainer:
    """Owns the models, the optimisers, the loss modules (DDP-wrapped when distributed)."""

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        recognisers: Mapping[str, PairRecogniser],
        out_dir: Path,
        options: Phase2Options,
        ctx: ddp.DistContext | None = None,
    ) -> None:
        self.mc, self.tc, self.opts = model_config, train_config, options
        self.ctx = ctx or ddp.DistContext()
        self.out_dir = Path(out_dir)
        self.device = torch.device(self.ctx.device)
        torch.manual_seed(train_config.seed + self.ctx.rank)
        self.generator = UUNetGenerator(model_config).to(self.device)
        self.critic = PatchCritic(width=options.critic_width).to(self.device)
        self.recognisers = {k: freeze(r).to(self.device) for k, r in recognisers.items()}
        self.s = s_vector(model_config, list(self.recognisers))
        self.opt_g = torch.optim.RMSprop(self.generator.parameters(), lr=train_config.lr_generator)
        self.opt_d = torch.optim.Adam(
            self.critic.parameters(),
            lr=train_config.lr_critic,
            betas=(train_config.beta1_critic, 0.999),
        )
        self._gen_loss_module = GeneratorLoss(
            self.generator, self.critic, self.recognisers, train_config, self.s
        )
        self.gen_loss = ddp.wrap(self._gen_loss_module, self.ctx)
        self.critic_loss = ddp.wrap(CriticLoss(self.critic, train_config), self.ctx)
        self.step, self.elapsed_s, self.best_rec = 0, 0.0, float("inf")
        self.runlog = RunLog(self.out_dir / "phase2.jsonl") if self.ctx.main else None

    # ---- noise -------------------------------------------------------------------------------
    def _noise(self, n_subjects: int) -> tuple[Tensor, Tensor, Tensor | None]:
        """(n1, n2, n_wrong) [B,1,64,64]: per-subject keys (product) or per-image noise (reference)."""
        k, size = self.tc.images_per_subject, self.mc.crop_size
        if not self.mc.keyed:
            b = n_subjects * k
            return torch.rand(b, 1, size, size), torch.rand(b, 1, size, size), None
        key = torch.rand(n_subjects, 1, size, size).repeat_interleave(k, 0)
        wrong = torch.rand(n_subjects, 1, size, size).repeat_interleave(k, 0)
        return key, key, wrong

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.device.type == "cuda" and self.tc.amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to(self, *tensors: Tensor) -> Iterator[Tensor]:
        return (t.to(self.device, non_blocking=True) for t in tensors)

    def _codec(self, a: Tensor) -> Tensor:
        codec = self._gen_loss_module.codec
        return codec(a) if codec is not None else a

    # ---- one step ----------------------------------------------------------------------------
    def critic_step(self, pool: TensorPool) -> dict[str, float]:
        """One critic update on a fresh batch (generator outputs detached)."""
        x, _, _ = pool.paired_batch(self.tc.subjects, self.tc.images_per_subject)
        n1, _, _ = self._noise(self.tc.subjects)
        x, n1 = self._to(x, n1)
        with torch.no_grad(), self._autocast():
            a = self.generator.public(x, n1)
            o = self.generator.private(self._codec(a), n1)
        self.critic.requires_grad_(True)
        with self._autocast():
            total, terms = self.critic_loss(x, a.float(), o.float())
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        self.opt_d.step()
        return {"d_total": total.item(), **{k: v.item() for k, v in terms.items()}}

    def generator_step(self, pool: TensorPool) -> tuple[dict[str, float], dict[str, Tensor]]:
        """One generator update; returns (terms, images for the sample grid)."""
        x1, x2, _ = pool.paired_batch(self.tc.subjects, self.tc.images_per_subject)
        n1, n2, nw = self._noise(self.tc.subjects)
        x1, x2, n1, n2 = self._to(x1, x2, n1, n2)
        nw = next(self._to(nw)) if nw is not None else None
        full = self.step >= self.tc.curriculum_steps
        self.critic.requires_grad_(False)
        with self._autocast():
            total, terms, images = self.gen_loss(x1, x2, n1, n2, nw, full)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        self.critic.requires_grad_(True)
        return {"g_total": total.item(), **{k: v.item() for k, v in terms.items()}}, images

    # ---- loop --------------------------------------------------------------------------------
    def train(self, pool: TensorPool, held_out: TensorPool | None = None) -> dict[str, float]:
        """Run until options.steps or options.max_seconds; returns the last logged terms."""
        self.generator.train()
        self.critic.train()
        started, last_ckpt = time.monotonic(), time.monotonic()
        base_elapsed = self.elapsed_s
        last: dict[str, float] = {}
        while self.step < self.opts.steps:
            d_terms: dict[str, float] = {}
            for _ in range(self.tc.critic_steps):
                d_terms = self.critic_step(pool)
            g_terms, images = self.generator_step(pool)
            self.step += 1
            self.elapsed_s = base_elapsed + time.monotonic() - started
            last = {**d_terms, **g_terms}
            if self.step % self.opts.log_every == 0:
                self._log(last)
            if self.ctx.main and self.step % self.opts.sample_every == 0:
                save_grid(self.out_dir / "samples" / f"step{self.step:07d}.png", images)
            timed_out = time.monotonic() - started >= self.opts.max_seconds
            if time.monotonic() - last_ckpt >= self.opts.checkpoint_every_s or timed_out:
                self.checkpoint(held_out)
                last_ckpt = time.monotonic()
            if timed_out:
                break
        self.checkpoint(held_out)
        return last

    def _log(self, terms: dict[str, float]) -> None:
        terms = {k: ddp.mean_across(v, self.ctx) for k, v in terms.items()}  # every rank joins
        if not self.ctx.main:
            return
        log.info(
            "phase2 step %d %s",
            self.step,
            " ".join(f"{k}={v:.4f}" for k, v in sorted(terms.items())),
        )
        if self.runlog:
            self.runlog.write(
                {"phase": 2, "step": self.step, "elapsed_s": round(self.elapsed_s, 1), **terms}
            )

    @torch.no_grad()
    def held_out_rec(self, pool: TensorPool, batches: int = 4) -> float:
        """Mean L1 of restoration vs input on held-out identities (eval mode, no codec)."""
        g = self.generator
        g.eval()
        total = 0.0
        for _ in range(batches):
            x, _, _ = pool.paired_batch(self.tc.subjects, self.tc.images_per_subject)
            n1, _, _ = self._noise(self.tc.subjects)
            x, n1 = self._to(x, n1)
            total += (g.private(g.public(x, n1), n1) - x).abs().mean().item()
        g.train()
        return total / batches

    def checkpoint(self, held_out: TensorPool | None) -> None:
        """Rank 0: state.pt (resume), latest.pt, and best.pt (lowest held-out L1 after the curriculum)."""
        if not self.ctx.main:
            return
        meta = {
            "steps": self.step,
            "elapsed_s": round(self.elapsed_s, 1),
            "train_config": self.tc.to_dict(),
        }
        if held_out is not None:
            rec = self.held_out_rec(held_out)
            meta["held_out_l1"] = rec
            if self.step > self.tc.curriculum_steps and rec < self.best_rec:
                self.best_rec = rec
                save_checkpoint(self.out_dir / "best.pt", self.generator, self._versioned(), meta)
            if self.runlog:
                self.runlog.write({"phase": 2, "step": self.step, "held_out_l1": rec})
        save_checkpoint(self.out_dir / "latest.pt", self.generator, self._versioned(), meta)
        save_state(self.out_dir / STATE_FILE, self.state())
        log.info("checkpoint at step %d (%.0f s)", self.step, self.elapsed_s)

    def _versioned(self) -> ModelConfig:
        from dataclasses import replace

        return replace(self.mc, version=f"{self.mc.version.split('+')[0]}+steps{self.step}")

    def state(self) -> TrainState:
        """A resumable snapshot."""
        return TrainState(
            step=self.step,
            model_config=self.mc.to_dict(),
            train_config=self.tc.to_dict(),
            generator=self.generator.state_dict(),
            critic=self.critic.state_dict(),
            opt_g=self.opt_g.state_dict(),
            opt_d=self.opt_d.state_dict(),
            recognisers={k: r.state_dict() for k, r in self.recognisers.items()},
            s_vector=self.s,
            critic_width=self.opts.critic_width,
            elapsed_s=self.elapsed_s,
            best_rec=self.best_rec,
        )

    @classmethod
    def resume(
        cls, out_dir: Path, options: Phase2Options, ctx: ddp.DistContext | None = None
    ) -> Phase2Trainer:
        """Rebuild from ``out_dir/state.pt``; training continues at the saved step."""
        st = load_state(Path(out_dir) / STATE_FILE)
        recs: dict[str, PairRecogniser] = {}
        for trait, sd in st.recognisers.items():
            recs[trait] = PairRecogniser()
            recs[trait].load_state_dict(sd)
        opts = Phase2Options(**{**options.__dict__, "critic_width": st.critic_width})
        mc = ModelConfig.from_dict(st.model_config)
        trainer = cls(mc, TrainConfig.from_dict(st.train_config), recs, out_dir, opts, ctx)
        trainer.generator.load_state_dict(st.generator)
        trainer.critic.load_state_dict(st.critic)
        trainer.opt_g.load_state_dict(st.opt_g)
        trainer.opt_d.load_state_dict(st.opt_d)
        trainer.step, trainer.elapsed_s, trainer.best_rec = st.step, st.elapsed_s, st.best_rec
        return trainer
