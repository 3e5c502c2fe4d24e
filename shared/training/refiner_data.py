"""Training samples for the donor refiner: (original crop, classical composite, mask) triples.

Originals are synthetic faces (the DCGAN face prior at latents no donor uses, degraded to
surveillance quality, see shared/data/synthetic.py), each with a second image of the same
pseudo-identity from another session; each original gets YuNet's landmarks, a donor picked by
a random key from the bank (the product's own choice rule), and the composite the product's own
``compose`` makes at crop size. The refiner must learn to improve exactly what the product makes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from shared.surrogate.composite import CompositeOptions, compose
from shared.surrogate.donors import DonorBank
from shared.surrogate.features import measure
from shared.video.crops import CROP_MARGIN, feather_mask
from shared.video.detect import YuNetDetector

log = logging.getLogger(__name__)


@dataclass
class RefinerPool:
    """Float tensors on the CPU: x, comp [N,3,64,64] in [0,1], mask [N,1,64,64], and x2, another
    image of x's person (another session: what an identity recogniser must still call "same")."""

    x: Tensor
    comp: Tensor
    mask: Tensor
    x2: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def split(self, held_out: float) -> tuple[RefinerPool, RefinerPool]:
        """(train, held-out) by index: the last ``held_out`` fraction is held out."""
        k = len(self) - max(1, round(len(self) * held_out))
        return (RefinerPool(self.x[:k], self.comp[:k], self.mask[:k], self.x2[:k]),
                RefinerPool(self.x[k:], self.comp[k:], self.mask[k:], self.x2[k:]))  # fmt: skip

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The samples at ``idx``."""
        return self.x[idx], self.comp[idx], self.mask[idx]


def _landmarks(face: np.ndarray, finder: YuNetDetector) -> np.ndarray | None:
    """YuNet's 5 landmarks of the one face filling a 64 px crop (found at 3x on a padded canvas)."""
    import cv2

    big = cv2.resize(face, (192, 192), interpolation=cv2.INTER_CUBIC)
    canvas = np.pad(big, ((96, 96), (96, 96), (0, 0)), mode="edge")
    found = finder.detect(canvas)
    if not found:
        return None
    best = max(found, key=lambda b: b.width)
    if best.landmarks is None:
        return None
    return (np.asarray(best.landmarks).reshape(5, 2) - 96) / 3.0


def build_pool(bank: DonorBank, count: int, seed: int = 1,
               options: CompositeOptions | None = None) -> RefinerPool:  # fmt: skip
    """``count`` samples (fewer if YuNet misses some originals)."""
    from shared.data.synthetic import SyntheticFaces

    faces = SyntheticFaces(seed=seed)
    finder = YuNetDetector(score_threshold=0.6)
    rng = np.random.default_rng(seed)
    border = feather_mask(64, CROP_MARGIN)[..., 0]
    xs: list[np.ndarray] = []
    comps: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    while len(xs) < count:
        pair = faces.session_batch(subjects=min(256, count - len(xs) + 32), per_session=1)
        imgs, others = (_uint8(t) for t in (pair.x1, pair.x2))  # same person, two sessions
        for img, other in zip(imgs, others, strict=True):
            points = _landmarks(img, finder)
            if points is None or len(xs) >= count:
                continue
            key = rng.bytes(16)
            idx, mirrored = bank.choose(key, "train", 0, measure(img, points))
            donor = bank.donor(idx, mirrored)
            comp = compose(img, donor.image, donor.points, points, border, options)
            xs.append(img)
            seconds.append(other)
            image, mask = comp.over(img)
            comps.append(np.clip(image, 0, 255))
            masks.append(mask)
        log.info("refiner pool: %d of %d samples", len(xs), count)

    def to_t(arr: list[np.ndarray]) -> Tensor:
        return torch.from_numpy(np.stack(arr).astype(np.float32) / 255.0).permute(0, 3, 1, 2)

    mask_t = torch.from_numpy(np.stack(masks))[:, None].float()
    return RefinerPool(to_t(xs), to_t(comps), mask_t, to_t(seconds))


def _uint8(t: Tensor) -> np.ndarray:
    """[N,3,64,64] in [0,1] -> uint8 [N,64,64,3]."""
    return np.asarray((t.permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8))
