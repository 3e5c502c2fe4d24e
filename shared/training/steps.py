"""The critic's and the generator's loss as modules, so one DDP wrapper covers each whole step.

Frozen partners (the critic inside the generator's loss, the recognisers) are held outside the module
tree so DDP only synchronises what the step trains.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from shared.model.critic import PatchCritic
from shared.model.recogniser import PairRecogniser
from shared.model.unet import UUNetGenerator
from shared.training import losses as L
from shared.training.codec_sim import CodecSim
from shared.training.config import TrainConfig


class CriticLoss(nn.Module):
    """BCE(real -> 1) x real_weight + BCE(A -> 0) + BCE(O -> 0) + gp * (GP(x, A) + GP(x, O))."""

    def __init__(self, critic: PatchCritic, config: TrainConfig) -> None:
        super().__init__()
        self.critic = critic
        self.config = config

    def forward(self, x: Tensor, a: Tensor, o: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        c, d = self.config, self.critic.logits
        real, fake_a, fake_o = (
            L.bce_logits(d(x), 1.0),
            L.bce_logits(d(a), 0.0),
            L.bce_logits(d(o), 0.0),
        )
        with torch.autocast(device_type=x.device.type, enabled=False):
            gp_a = L.gradient_penalty(d, x.float(), a.float(), c.gp_on_probability, c.gp_mean)
            gp_o = L.gradient_penalty(d, x.float(), o.float(), c.gp_on_probability, c.gp_mean)
        total = c.critic_real_weight * real + fake_a + fake_o + c.gp_weight * (gp_a + gp_o)
        terms = {"d_real": real, "d_fake_a": fake_a, "d_fake_o": fake_o, "d_gp": gp_a + gp_o}
        return total, terms


def _pair_fn(rec: PairRecogniser) -> L.PairScore:
    return lambda a, b: rec(a, b)


class GeneratorLoss(nn.Module):
    """Every generator term of one step; ``forward`` returns (total, terms, images for samples)."""

    def __init__(
        self,
        generator: UUNetGenerator,
        critic: PatchCritic,
        recognisers: Mapping[str, PairRecogniser],
        config: TrainConfig,
        s_vector: Mapping[str, int],
    ) -> None:
        super().__init__()
        self.generator = generator
        self.codec = CodecSim(seed=config.seed) if config.codec else None
        self.config = config
        self.s = dict(s_vector)
        # Not submodules: frozen here, trained (critic) or fixed (recognisers) elsewhere.
        self._frozen = (critic, dict(recognisers))

    def _degrade(self, a: Tensor) -> Tensor:
        if self.codec is None:
            return a
        # The DCT quantisation needs float32: bf16 rounding alone would be ~0.5 of a level.
        with torch.autocast(device_type=a.device.type, enabled=False):
            return self.codec(a.float())

    def forward(
        self, x1: Tensor, x2: Tensor, n1: Tensor, n2: Tensor, n_wrong: Tensor | None, full: bool
    ) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """x1, x2 [B,3,64,64] aligned by subject; n* [B,1,64,64]; full=False: curriculum warm-up."""
        c, g = self.config, self.generator
        critic, recs = self._frozen
        a1 = g.public(x1, n1)
        a1_seen = self._degrade(a1)
        o1 = g.private(a1_seen, n1)
        terms: dict[str, Tensor] = {
            "rec": L.reconstruction(o1, x1, c.rec_kind, c.w_ssim),
            "adv_a": L.bce_logits(critic.logits(a1), 1.0),
            "adv_o": L.bce_logits(critic.logits(o1), 1.0),
        }
        if c.hist_kind == "reference":
            terms["hist"] = L.histogram_reference(x1, a1) + L.histogram_reference(x1, o1)
        else:
            terms["hist"] = L.histogram_product(x1, a1)
            terms["struct"] = L.structure(a1, x1)
        images = {"x": x1, "a": a1, "o": o1}
        if full:
            terms.update(self._identity_terms(x1, x2, a1, o1, n2))
            if n_wrong is not None and (c.w_wrong_key > 0 or c.w_wrong_key_id > 0):
                o_wrong = g.private(a1_seen, n_wrong)
                terms["wrong_key"] = L.wrong_key(o_wrong, x1, c.wrong_key_margin)
                if "identity" in recs:
                    p = L.scores({"identity": _pair_fn(recs["identity"])}, x1, o_wrong)
                    terms["wrong_key_id"] = L.bce_prob(p["identity"], 0.0)
                images["o_wrong"] = o_wrong
        return self._weighted(terms), terms, images

    def _identity_terms(
        self, x1: Tensor, x2: Tensor, a1: Tensor, o1: Tensor, n2: Tensor
    ) -> dict[str, Tensor]:
        c = self.config
        recs = {k: _pair_fn(r) for k, r in self._frozen[1].items()}
        if not recs:
            return {}
        p_xa, p_xo = L.scores(recs, x1, a1), L.scores(recs, x1, o1)
        ano = (L.ano_reference if c.s_on_reconstruction else L.ano_product)(p_xa, p_xo, self.s)
        a2 = self.generator.public(x2, n2)
        if c.con_div_mode == "reference":
            con, div = L.con_div_reference(recs, a1, a2, self.s, c.images_per_subject)
        else:
            con, div = L.con_div_resolved(recs, a1, a2, c.images_per_subject)
        return {"ano": ano, "con": con, "div": div}

    def _weighted(self, terms: Mapping[str, Tensor]) -> Tensor:
        c = self.config
        weights = {
            "rec": c.w_rec, "adv_a": c.w_adv_a, "adv_o": c.w_adv_o, "hist": c.w_hist,
            "struct": c.w_struct, "ano": c.w_ano, "con": c.w_con, "div": c.w_div,
            "wrong_key": c.w_wrong_key, "wrong_key_id": c.w_wrong_key_id,
        }  # fmt: skip
        total = sum(weights[k] * v for k, v in terms.items())
        return torch.as_tensor(total)
