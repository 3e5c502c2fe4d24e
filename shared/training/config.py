"""Training configuration: frozen dataclasses stored in every training checkpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import ConfigError

CON_DIV_MODES = ("reference", "resolved")
REC_KINDS = ("mse", "l1_ssim")


@dataclass(frozen=True)
class Phase1Config:
    """Phase 1: one pairwise recogniser per trait (reference: RMSprop 1.25e-5, best pair AUC kept)."""

    classes_per_batch: int = 4
    images_per_class: int = 8
    lr: float = 1.25e-5
    steps: int = 2000
    eval_every: int = 100
    eval_pairs_batches: int = 8  # held-out batches used for the pair AUC
    seed: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """Phase 2 ratios and weights; ``reference()`` reproduces the paper's code, ``product()`` ours."""

    subjects: int = 4  # subjects per batch (x1 and x2 each hold subjects * images_per_subject)
    images_per_subject: int = 8
    critic_steps: int = 5
    gp_weight: float = 10.0
    gp_on_probability: bool = True  # the reference differentiates the sigmoid output
    gp_mean: bool = False  # product: penalise the mean patch logit (the reference sums the 8x8 map)
    hist_kind: str = "reference"  # "reference" (hard bins, no gradient) or "soft" (differentiable)
    critic_real_weight: float = 2.0
    lr_critic: float = 2e-4
    beta1_critic: float = 0.5
    lr_generator: float = 5e-5
    rec_kind: str = "mse"
    w_rec: float = 100.0
    w_ssim: float = 0.0  # product: 1-SSIM added to L1 as the cheap perceptual term
    w_adv_a: float = 1.0
    w_adv_o: float = 1.0
    w_ano: float = 1.0
    w_con: float = 1.0
    w_div: float = 1.0
    w_hist: float = 1.0
    w_struct: float = 0.0  # product: low-frequency layout of A kept near x (pose, light)
    w_wrong_key: float = 0.0  # product: restoration under a random other key pushed away from x
    wrong_key_margin: float = 0.25  # mean |O_wrong - x| below this is penalised
    w_wrong_key_id: float = 0.0  # product: identity recogniser pushed to "different" for O_wrong
    con_div_mode: str = "reference"
    s_on_reconstruction: bool = True  # reference quirk: S also steers the x-vs-O scores
    codec: bool = False  # codec simulation between the modules
    curriculum_steps: int = 0  # generator steps with only realism + reconstruction terms
    amp: bool = True  # bf16 autocast on CUDA only
    seed: int = 0

    def __post_init__(self) -> None:
        if self.con_div_mode not in CON_DIV_MODES:
            raise ConfigError(f"con_div_mode must be one of {CON_DIV_MODES}")
        if self.hist_kind not in ("reference", "soft"):
            raise ConfigError("hist_kind must be 'reference' or 'soft'")
        if self.rec_kind not in REC_KINDS:
            raise ConfigError(f"rec_kind must be one of {REC_KINDS}")
        if self.subjects < 2 or self.images_per_subject < 2 or self.images_per_subject % 2:
            raise ConfigError("need >= 2 subjects and an even number >= 2 of images per subject")
        if self.critic_steps < 1:
            raise ConfigError("critic_steps must be >= 1")

    @property
    def batch(self) -> int:
        """Images in x1 (and in x2)."""
        return self.subjects * self.images_per_subject

    @classmethod
    def reference(cls) -> TrainConfig:
        """The reference's phase 2 exactly (its CON/DIV contradiction included)."""
        return cls()

    @classmethod
    def product(cls) -> TrainConfig:
        """The product's phase 2: codec, wrong key, curriculum, L1+SSIM, strong realism."""
        return cls(
            gp_on_probability=False,
            gp_mean=True,
            hist_kind="soft",
            rec_kind="l1_ssim",
            w_rec=20.0,
            w_ssim=0.5,
            w_adv_a=2.0,
            w_adv_o=0.5,
            w_ano=1.0,
            w_con=0.5,
            w_div=0.5,
            w_hist=1.0,
            w_struct=5.0,
            w_wrong_key=20.0,
            w_wrong_key_id=2.0,
            con_div_mode="resolved",
            s_on_reconstruction=False,
            codec=True,
            curriculum_steps=300,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form stored in checkpoints."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of to_dict; unknown keys are ignored with defaults kept for missing ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
