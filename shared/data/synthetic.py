"""Unlimited synthetic training faces with pseudo-identities, from the DCGAN in ``gan-face-generate``.

An identity is a latent z ~ N(0, I_100); a session is z plus a small offset (sigma 0.3: same person,
other accessories, lighting, pose); each image adds a smaller offset (sigma 0.12) and its own
surveillance-quality degradation (shared/data/augment.py). Offsets up to ~0.4 keep the person to the
eye; from ~0.6 identity drifts; independent draws are different people. The faces are synthetic
(trained on DigiFace-1M renders): no real person's face is used. Licence of the weights: README.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import Tensor

from shared.data.augment import DegradeOptions, degrade
from shared.data.batches import LabelledBatch, PairedBatch
from shared.data.dcgan import NZ, DCGANGenerator, load_dcgan
from shared.domain.errors import BadInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticOptions:
    """How far sessions and images stray from an identity's latent, and the degradation applied."""

    session_sigma: float = 0.3
    image_sigma: float = 0.12
    augment: bool = True
    degrade: DegradeOptions = field(default_factory=DegradeOptions)
    render_batch: int = 256  # generator forward chunk (memory bound)


class SyntheticFaces:
    """Face source: ``session_batch`` for phase 2, ``trait_batch`` (identity only) for phase 1."""

    def __init__(self, device: str | torch.device = "cpu", seed: int = 0,
                 options: SyntheticOptions | None = None,
                 net: DCGANGenerator | None = None) -> None:  # fmt: skip
        self.device = torch.device(device)
        self.options = options or SyntheticOptions()
        self.net = net.to(self.device) if net is not None else load_dcgan(self.device)
        # Randomness is drawn on the CPU so a seed gives the same faces on any device.
        self.gen = torch.Generator().manual_seed(seed)
        self._next_id = 0

    def identities(self, n: int) -> Tensor:
        """n new identity latents [n, 100] (CPU)."""
        return torch.randn(n, NZ, generator=self.gen)

    def perturb(self, z: Tensor, sigma: float) -> Tensor:
        """z + sigma * N(0, I): same identity (sigma <= 0.4) seen another way."""
        return z + sigma * torch.randn(z.shape, generator=self.gen)

    @torch.no_grad()
    def render(self, z: Tensor) -> Tensor:
        """Latents [M, 100] -> clean faces [M,3,64,64] in [0,1] on self.device."""
        outs = []
        for start in range(0, z.shape[0], self.options.render_batch):
            chunk = z[start : start + self.options.render_batch].to(self.device)
            outs.append((self.net(chunk.view(-1, NZ, 1, 1)) + 1) / 2)  # Tanh -> [0,1]
        return torch.cat(outs).clamp_(0, 1)

    def finish(self, faces: Tensor) -> Tensor:
        """Apply the configured degradation (or none) to rendered faces."""
        if not self.options.augment:
            return faces
        return degrade(faces, self.options.degrade, self.gen)

    def faces(self, n: int, augment: bool | None = None) -> Tensor:
        """n faces of n different identities [n,3,64,64] in [0,1]."""
        faces = self.render(self.identities(n))
        do_aug = self.options.augment if augment is None else augment
        return degrade(faces, self.options.degrade, self.gen) if do_aug else faces

    def _session(self, z_id: Tensor, per_session: int) -> Tensor:
        # [S,100] -> one session offset per subject, then one offset per image: [S*K,100], subject-major
        z_sess = self.perturb(z_id, self.options.session_sigma)
        z_img = z_sess.repeat_interleave(per_session, 0)
        return self.finish(self.render(self.perturb(z_img, self.options.image_sigma)))

    def _new_ids(self, n: int) -> Tensor:
        ids = torch.arange(self._next_id, self._next_id + n)
        self._next_id += n
        return ids

    def session_batch(self, subjects: int = 4, per_session: int = 8) -> PairedBatch:
        """S subjects x K images from session 1 (x1) and K from session 2 (x2), aligned by subject."""
        _check_counts(subjects, per_session)
        z_id = self.identities(subjects)
        x1, x2 = self._session(z_id, per_session), self._session(z_id, per_session)
        ids = self._new_ids(subjects).repeat_interleave(per_session).to(self.device)
        return PairedBatch(x1=x1, x2=x2, ids=ids)

    def trait_batch(
        self, classes: int = 4, per_class: int = 8, trait: str = "identity"
    ) -> LabelledBatch:
        """C identities x K images, each image from a fresh session of its identity (phase 1)."""
        if trait != "identity":
            raise BadInputError(
                f"synthetic faces carry no {trait!r} labels; train attribute recognisers on a "
                "labelled folder"
            )
        _check_counts(classes, per_class)
        z_img = self.identities(classes).repeat_interleave(per_class, 0)
        z_img = self.perturb(
            z_img, (self.options.session_sigma**2 + self.options.image_sigma**2) ** 0.5
        )
        images = self.finish(self.render(z_img))
        labels = self._new_ids(classes).repeat_interleave(per_class).to(self.device)
        return LabelledBatch(images=images, labels=labels)


def _check_counts(groups: int, per_group: int) -> None:
    if groups < 1 or per_group < 1:
        raise BadInputError(f"batch needs >= 1 group and >= 1 image each, got {groups}x{per_group}")
