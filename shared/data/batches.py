"""Batch types every face source yields, and the pair sampling of phase 1.

Phase 2 (the UU-Net) takes a ``PairedBatch``: S subjects x K crops from one session (x1) and K from
another session (x2), aligned by subject. Phase 1 (pairwise recognisers) takes a ``LabelledBatch`` of
C classes x K crops and turns it into ordered pairs with ``pair_indices``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from shared.domain.errors import BadInputError


@dataclass(frozen=True)
class PairedBatch:
    """x1, x2: [S*K,3,64,64] in [0,1] (subject-major, row i of x1 and x2 = same subject); ids: [S*K]."""

    x1: Tensor
    x2: Tensor
    ids: Tensor  # int64 identity label per row
    attributes: Tensor | None = (
        None  # [S*K, 6] int64 P-DESTRE codes (-1 unknown), None if unlabelled
    )

    def to(self, device: str | torch.device) -> PairedBatch:
        """The same batch on another device."""
        attrs = None if self.attributes is None else self.attributes.to(device)
        return PairedBatch(self.x1.to(device), self.x2.to(device), self.ids.to(device), attrs)


@dataclass(frozen=True)
class LabelledBatch:
    """images: [C*K,3,64,64] in [0,1]; labels: [C*K] int64 class of the asked trait."""

    images: Tensor
    labels: Tensor

    def to(self, device: str | torch.device) -> LabelledBatch:
        """The same batch on another device."""
        return LabelledBatch(self.images.to(device), self.labels.to(device))


class FaceSource(Protocol):
    """What training asks of a data source (synthetic faces or a labelled folder)."""

    def session_batch(self, subjects: int = 4, per_session: int = 8) -> PairedBatch: ...

    def trait_batch(
        self, classes: int = 4, per_class: int = 8, trait: str = "identity"
    ) -> LabelledBatch: ...


def pair_indices(
    labels: Tensor, balance: bool = True, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """All ordered pairs i != j -> (idx_a [P], idx_b [P], same [P] float 0/1).

    balance=True keeps every same-class pair and as many different-class pairs, drawn at random
    (the reference samples a 40-60% split), so BCE is not swamped by easy negatives.
    """
    n = labels.shape[0]
    if n < 2:
        raise BadInputError("pairs need at least two images")
    lab = labels.cpu()
    ia, ib = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = ia != ib
    ia, ib = ia[keep], ib[keep]  # [n*(n-1)]
    same = (lab[ia] == lab[ib]).float()
    if balance:
        pos = torch.nonzero(same == 1).squeeze(1)
        neg = torch.nonzero(same == 0).squeeze(1)
        if len(pos) and len(neg):
            k = min(len(pos), len(neg))
            pos = pos[torch.randperm(len(pos), generator=generator)[:k]]
            neg = neg[torch.randperm(len(neg), generator=generator)[:k]]
            sel = torch.cat([pos, neg])
            ia, ib, same = ia[sel], ib[sel], same[sel]
    return ia.to(labels.device), ib.to(labels.device), same.to(labels.device)
