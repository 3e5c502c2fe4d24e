"""Shapes, ranges and parameter counts of the UU-Net, critic and recogniser."""

from __future__ import annotations

import pytest
import torch

from shared.domain.errors import ConfigError
from shared.model.config import ModelConfig
from shared.model.critic import PatchCritic
from shared.model.recogniser import PairRecogniser
from shared.model.unet import UUNetGenerator, count_params

TINY = ModelConfig.product(width=0.0625)


def test_faithful_generator_has_the_reference_parameter_count() -> None:
    gen = UUNetGenerator(ModelConfig.faithful())
    assert gen.public_net is not None and gen.private_net is not None
    assert count_params(gen.public_net) == 29_248_515
    assert count_params(gen.private_net) == 29_247_491
    assert count_params(gen) == 58_496_006


def test_keyed_private_module_takes_four_channels() -> None:
    gen = UUNetGenerator(TINY)
    assert gen.private_net is not None
    first = gen.private_net.encoders[0].conv
    assert isinstance(first, torch.nn.Conv2d) and first.in_channels == 4


def test_generator_maps_64px_crops_to_64px_outputs_in_unit_range() -> None:
    gen = UUNetGenerator(TINY).eval()
    x, noise = torch.rand(3, 3, 64, 64), torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        a, o = gen(x, noise)
    assert a.shape == o.shape == (3, 3, 64, 64)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_unkeyed_private_module_ignores_the_noise() -> None:
    gen = UUNetGenerator(ModelConfig(width=0.0625)).eval()
    a = torch.rand(2, 3, 64, 64)
    assert torch.equal(
        gen.private(a, torch.rand(2, 1, 64, 64)), gen.private(a, torch.zeros(2, 1, 64, 64))
    )


def test_critic_gives_an_8x8_patch_map_and_logits() -> None:
    critic = PatchCritic(width=0.125).eval()
    x = torch.rand(2, 3, 64, 64)
    probs, logits = critic(x), critic.logits(x)
    assert probs.shape == logits.shape == (2, 1, 8, 8)
    assert torch.allclose(probs, torch.sigmoid(logits))


def test_recogniser_has_about_036m_params_and_scores_pairs() -> None:
    rec = PairRecogniser().eval()
    assert count_params(rec) == 363_793
    p = rec(torch.rand(4, 3, 64, 64), torch.rand(4, 3, 64, 64))
    assert p.shape == (4,) and bool(((p > 0) & (p < 1)).all())


def test_config_round_trips_through_a_dict_and_rejects_bad_values() -> None:
    cfg = ModelConfig.product(0.5)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.keyed and not cfg.faithful and cfg.model_id == "uunet-product-w0.5"
    with pytest.raises(ConfigError):
        ModelConfig(crop_size=96)
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({**cfg.to_dict(), "depth": 9})
