"""Where training batches come from: a labelled in-memory pool of 64x64 crops.

The pool is filled once (from the synthetic face source or a folder of labelled crops) and then
sampled for phase 1 (classes x images) and phase 2 (subjects x images from two sessions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from shared.domain.errors import BadInputError


@dataclass
class TensorPool:
    """uint8 crops [N,3,64,64] with an identity and a session per crop, plus optional attributes."""

    images: Tensor  # uint8 [N,3,64,64]
    identity: Tensor  # int64 [N]
    session: Tensor  # int64 [N]
    attributes: dict[str, Tensor] = field(default_factory=dict)  # trait -> int64 [N], -1 = unknown
    seed: int = 0

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise BadInputError("pool images must be uint8 [N,3,H,W]")
        self._gen = torch.Generator().manual_seed(self.seed)
        ids = self.identity.tolist()
        sess = self.session.tolist()
        self._by_id_session: dict[int, dict[int, list[int]]] = {}
        for i, (k, s) in enumerate(zip(ids, sess, strict=True)):
            self._by_id_session.setdefault(k, {}).setdefault(s, []).append(i)
        # Subjects usable in phase 2: at least two sessions.
        self._two_session = [k for k, v in self._by_id_session.items() if len(v) >= 2]

    @property
    def traits(self) -> tuple[str, ...]:
        """Traits this pool has labels for ("identity" first)."""
        return ("identity", *self.attributes)

    def _labels(self, trait: str) -> Tensor:
        return self.identity if trait == "identity" else self.attributes[trait]

    def _pick(self, pool: list[int], k: int) -> list[int]:
        # Sample without replacement when possible, with replacement for small classes.
        n = len(pool)
        if n >= k:
            idx = torch.randperm(n, generator=self._gen)[:k]
        else:
            idx = torch.randint(n, (k,), generator=self._gen)
        return [pool[i] for i in idx.tolist()]

    def _float(self, idx: list[int]) -> Tensor:
        return self.images[idx].float() / 255.0

    def class_batch(self, trait: str, classes: int, per_class: int) -> tuple[Tensor, Tensor]:
        """Phase 1: ``classes`` random classes x ``per_class`` crops -> (float [B,3,64,64], labels [B])."""
        labels = self._labels(trait)
        values = sorted(v for v in set(labels.tolist()) if v >= 0)
        if len(values) < 2:
            raise BadInputError(f"trait {trait!r} has fewer than two labelled classes")
        chosen = torch.randperm(len(values), generator=self._gen)[: min(classes, len(values))]
        idx: list[int] = []
        for c in chosen.tolist():
            members = (labels == values[c]).nonzero().flatten().tolist()
            idx += self._pick(members, per_class)
        return self._float(idx), labels[idx]

    def paired_batch(self, subjects: int, per_subject: int) -> tuple[Tensor, Tensor, Tensor]:
        """Phase 2: x1, x2 [S*K,3,64,64] from two sessions of the same subjects, aligned; ids [S*K]."""
        if len(self._two_session) < subjects:
            raise BadInputError(
                f"need {subjects} subjects with two sessions, pool has {len(self._two_session)}"
            )
        order = torch.randperm(len(self._two_session), generator=self._gen)[:subjects].tolist()
        idx1: list[int] = []
        idx2: list[int] = []
        ids: list[int] = []
        for o in order:
            sessions = self._by_id_session[self._two_session[o]]
            keys = sorted(sessions)
            pick = torch.randperm(len(keys), generator=self._gen)[:2].tolist()
            idx1 += self._pick(sessions[keys[pick[0]]], per_subject)
            idx2 += self._pick(sessions[keys[pick[1]]], per_subject)
            ids += [self._two_session[o]] * per_subject
        return self._float(idx1), self._float(idx2), torch.tensor(ids)

    def split(self, held_out_fraction: float) -> tuple[TensorPool, TensorPool]:
        """(train, held-out) pools with disjoint identities."""
        ids = sorted(self._by_id_session)
        n_out = max(2, int(len(ids) * held_out_fraction))
        out_ids = set(ids[-n_out:])
        mask = torch.tensor([i in out_ids for i in self.identity.tolist()])
        return self._subset(~mask, self.seed), self._subset(mask, self.seed + 1)

    def _subset(self, mask: Tensor, seed: int) -> TensorPool:
        return TensorPool(
            images=self.images[mask],
            identity=self.identity[mask],
            session=self.session[mask],
            attributes={k: v[mask] for k, v in self.attributes.items()},
            seed=seed,
        )


def to_uint8(x: Tensor) -> Tensor:
    """float [N,3,H,W] in [0,1] -> uint8 (pool storage: 4x smaller)."""
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8)
