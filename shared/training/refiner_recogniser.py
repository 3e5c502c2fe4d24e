"""An identity recogniser that looks at the inner face: the refiner's guard against re-identification.

The phase-1 recogniser, trained on synthetic pseudo-identities whose whole picture changes with the
person, scored a composite (same hair, background and colours, another inner face) as the original
with P(same) 0.99999: useless for a donor surrogate. This one is the reference's pairwise network
trained on the pool's own pairs: same person in two sessions -> 1; the original and its composite
(everything kept but the inner face) -> 0; two people -> 0. It never sees the dlib judge.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor

from shared.evaluation.metrics import pair_auc
from shared.model.recogniser import PairRecogniser
from shared.training.phase1 import freeze
from shared.training.refiner_data import RefinerPool

log = logging.getLogger(__name__)


def _pairs(pool: RefinerPool, idx: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """a, b [3k,3,64,64] and labels [3k]: same person / composite / another person, random order."""
    other = idx[torch.randperm(len(idx), generator=g)]
    other = torch.where(other == idx, (idx + 1) % len(pool), other)
    a = torch.cat([pool.x[idx]] * 3)
    b = torch.cat([pool.x2[idx], pool.comp[idx], pool.x2[other]])
    y = torch.cat([torch.ones(len(idx)), torch.zeros(2 * len(idx))])
    flip = torch.rand(len(y), generator=g) < 0.5  # the network is not symmetric in its inputs
    a2 = torch.where(flip[:, None, None, None], b, a)
    b2 = torch.where(flip[:, None, None, None], a, b)
    return a2, b2, y


@torch.no_grad()
def inner_aucs(rec: PairRecogniser, pool: RefinerPool) -> dict[str, float]:
    """Held-out AUC of same-person pairs against composites and against other people."""
    rec.eval()
    idx = torch.arange(len(pool))
    same = rec(pool.x[idx], pool.x2[idx])
    swap = rec(pool.x[idx], pool.comp[idx])
    other = rec(pool.x[idx], pool.x2[(idx + 1) % len(pool)])
    ones, zeros = torch.ones(len(idx)), torch.zeros(len(idx))
    return {
        "auc_vs_composite": pair_auc(torch.cat([same, swap]), torch.cat([ones, zeros])),
        "auc_vs_other_person": pair_auc(torch.cat([same, other]), torch.cat([ones, zeros])),
        "p_same_composite": float(swap.mean()),
    }


def train_inner_recogniser(pool: RefinerPool, val: RefinerPool, steps: int = 1500,
                           batch: int = 16, lr: float = 2e-4,
                           seed: int = 0) -> tuple[PairRecogniser, dict[str, float]]:  # fmt: skip
    """Train from scratch; returns the frozen recogniser and its held-out AUCs."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    rec = PairRecogniser()
    opt = torch.optim.Adam(rec.parameters(), lr=lr)
    rec.train()
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(pool), (batch,), generator=g)
        a, b, y = _pairs(pool, idx, g)
        loss = F.binary_cross_entropy_with_logits(rec.logits(a, b), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 250 == 0 or step == steps:
            metrics = inner_aucs(rec, val)
            rec.train()
            log.info("inner recogniser step %d loss %.4f %s", step, float(loss.detach()), metrics)
    metrics = inner_aucs(rec, val)
    return freeze(rec), metrics
