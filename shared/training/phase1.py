"""Phase 1: train one pairwise recogniser per trait; keep the weights with the best held-out pair AUC."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from shared.domain.errors import ConfigError
from shared.evaluation.metrics import pair_auc
from shared.model.recogniser import PairRecogniser
from shared.training.config import Phase1Config
from shared.training.losses import standardize
from shared.training.runlog import RunLog
from shared.training.sources import TensorPool

log = logging.getLogger(__name__)

FORMAT = "uunet-recognisers/1"


def all_pairs(
    images: Tensor, labels: Tensor, gen: torch.Generator, max_pairs: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """Ordered pairs (i != j), half same-class and half not, at most ``max_pairs`` (0 = all).

    The reference draws about one batch's worth of pairs per step (40-60% negatives); keeping all
    positives of a 4x8 batch would be 448 pairs, ~14x the compute per step for little gain.
    """
    n = labels.shape[0]
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = i != j
    i, j = i[keep], j[keep]
    same = labels[i] == labels[j]
    pos, neg = same.nonzero().flatten(), (~same).nonzero().flatten()
    half = pos.numel() if max_pairs <= 0 else max(1, min(pos.numel(), max_pairs // 2))
    pos = pos[torch.randperm(pos.numel(), generator=gen)[:half]]
    neg = neg[torch.randperm(neg.numel(), generator=gen)[:half]]
    sel = torch.cat((pos, neg))
    return images[i[sel]], images[j[sel]], same[sel].float()


def _pair_step(
    model: PairRecogniser, images: Tensor, labels: Tensor, gen: torch.Generator
) -> Tensor:
    a, b, y = all_pairs(standardize(images), labels, gen, images.shape[0])
    return F.binary_cross_entropy_with_logits(model.logits(a, b), y)


@torch.no_grad()
def held_out_auc(model: PairRecogniser, pool: TensorPool, trait: str, cfg: Phase1Config) -> float:
    """Pair AUC on ``eval_pairs_batches`` batches of the held-out pool (eval mode)."""
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    scores: list[Tensor] = []
    truth: list[Tensor] = []
    for _ in range(cfg.eval_pairs_batches):
        images, labels = pool.class_batch(trait, cfg.classes_per_batch, cfg.images_per_class)
        a, b, y = all_pairs(standardize(images), labels, gen, 256)
        scores.append(model(a, b))
        truth.append(y)
    model.train()
    return pair_auc(torch.cat(scores), torch.cat(truth))


def train_trait(
    trait: str, train: TensorPool, held_out: TensorPool, cfg: Phase1Config, runlog: RunLog | None
) -> tuple[PairRecogniser, float, int]:
    """Train one recogniser; returns (best model, its AUC, step it was reached at)."""
    torch.manual_seed(cfg.seed)
    model = PairRecogniser()
    opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_auc, best_step = copy.deepcopy(model), -1.0, 0
    for step in range(1, cfg.steps + 1):
        images, labels = train.class_batch(trait, cfg.classes_per_batch, cfg.images_per_class)
        loss = _pair_step(model, images, labels, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            auc = held_out_auc(model, held_out, trait, cfg)
            if auc > best_auc:
                best, best_auc, best_step = copy.deepcopy(model), auc, step
            log.info(
                "phase1 %s step %d loss %.4f auc %.4f (best %.4f)",
                trait,
                step,
                loss.item(),
                auc,
                best_auc,
            )
            if runlog:
                runlog.write(
                    {"phase": 1, "trait": trait, "step": step, "loss": loss.item(), "auc": auc}
                )
    return best.eval(), best_auc, best_step


def run_phase1(
    train: TensorPool, held_out: TensorPool, cfg: Phase1Config, out: Path
) -> dict[str, float]:
    """Train every trait the pool labels, save them to ``out``; returns trait -> best AUC."""
    runlog = RunLog(out.parent / "phase1.jsonl")
    states: dict[str, Any] = {}
    aucs: dict[str, float] = {}
    started = time.monotonic()
    for trait in train.traits:
        model, auc, step = train_trait(trait, train, held_out, cfg, runlog)
        states[trait] = model.state_dict()
        aucs[trait] = auc
        log.info("phase1 %s: best held-out pair AUC %.4f at step %d", trait, auc, step)
    save_recognisers(
        out, states, {"auc": aucs, "config": asdict(cfg), "seconds": time.monotonic() - started}
    )
    return aucs


def save_recognisers(path: Path, states: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write trait -> state_dict with metadata (torch file, weights_only loadable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "recognisers": states, "meta": meta}, path)


def load_recognisers(path: Path) -> tuple[dict[str, PairRecogniser], dict[str, Any]]:
    """Read a phase-1 file -> (trait -> frozen eval-mode recogniser, metadata)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise ConfigError(f"recogniser file not found: {path}") from err
    except Exception as err:
        raise ConfigError(f"recogniser file {path} is corrupt") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a phase-1 recogniser file")
    out: dict[str, PairRecogniser] = {}
    for trait, state in data["recognisers"].items():
        model = PairRecogniser()
        model.load_state_dict(state)
        out[trait] = freeze(model)
    return out, dict(data.get("meta", {}))


def freeze(model: PairRecogniser) -> PairRecogniser:
    """Eval mode, no gradients: a fixed judge inside phase 2."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
