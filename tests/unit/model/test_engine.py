"""UUNetEngine: determinism in eval mode, stochastic faithful mode, halves, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.domain.errors import BadInputError, ConfigError
from shared.model.checkpoint import load_checkpoint, part_from_bytes, part_to_bytes, save_checkpoint
from shared.model.config import ModelConfig
from shared.model.inference import UUNetEngine

TINY = ModelConfig.product(width=0.0625)


def _inputs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 64, 64, generator=g), torch.rand(n, 1, 64, 64, generator=g)


def test_product_engine_is_deterministic_and_batch_independent() -> None:
    engine = UUNetEngine.from_config(TINY)
    x, noise = _inputs(4)
    first, second = engine.deidentify(x, noise), engine.deidentify(x, noise)
    assert torch.equal(first, second)
    alone = engine.deidentify(x[2:3], noise[2:3])
    assert torch.allclose(alone, first[2:3], atol=1e-5)


def test_faithful_engine_is_stochastic_like_the_reference() -> None:
    engine = UUNetEngine.from_config(ModelConfig(width=0.0625))
    x, noise = _inputs(4)
    assert not torch.allclose(engine.deidentify(x, noise), engine.deidentify(x, noise))


def test_restore_outputs_stay_in_unit_range_and_shape() -> None:
    engine = UUNetEngine.from_config(TINY)
    x, noise = _inputs(2)
    out = engine.restore(engine.deidentify(x, noise), noise)
    assert out.shape == (2, 3, 64, 64) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_checkpoint_round_trip_restores_config_and_outputs(tmp_path: Path) -> None:
    cfg = ModelConfig.product(width=0.0625)
    engine = UUNetEngine.from_config(cfg, seed=3)
    path = save_checkpoint(tmp_path / "m.pt", engine.generator, cfg, meta={"steps": 5})
    loaded = UUNetEngine.load(path)
    x, noise = _inputs(2)
    assert loaded.config == cfg and loaded.meta == {"steps": 5}
    assert torch.allclose(loaded.deidentify(x, noise), engine.deidentify(x, noise), atol=1e-6)


def test_half_precision_checkpoint_loads_back_as_float32(tmp_path: Path) -> None:
    engine = UUNetEngine.from_config(TINY)
    path = save_checkpoint(tmp_path / "h.pt", engine.generator, TINY, half=True)
    ckpt = load_checkpoint(path)
    assert all(v.dtype == torch.float32 for v in ckpt.generator.values() if v.is_floating_point())
    x, noise = _inputs(2)
    assert torch.allclose(
        UUNetEngine.load(path).deidentify(x, noise), engine.deidentify(x, noise), atol=1e-2
    )


def test_public_only_engine_refuses_to_restore_and_private_only_refuses_to_deidentify(
    tmp_path: Path,
) -> None:
    engine = UUNetEngine.from_config(TINY)
    path = save_checkpoint(tmp_path / "m.pt", engine.generator, TINY)
    public, private = UUNetEngine.load(path, part="public"), UUNetEngine.load(path, part="private")
    x, noise = _inputs(1)
    assert not public.has_part("private") and not private.has_part("public")
    with pytest.raises(ConfigError, match="only the public"):
        public.restore(x, noise)
    with pytest.raises(ConfigError, match="only the private"):
        private.deidentify(x, noise)
    a = public.deidentify(x, noise)
    assert torch.allclose(private.restore(a, noise), engine.restore(a, noise), atol=1e-6)


def test_private_half_travels_as_bytes_on_its_own(tmp_path: Path) -> None:
    engine = UUNetEngine.from_config(TINY)
    path = save_checkpoint(tmp_path / "m.pt", engine.generator, TINY)
    cfg, part, state, _ = part_from_bytes(part_to_bytes(load_checkpoint(path), "private"))
    restorer = UUNetEngine.from_parts(cfg, None, state)
    x, noise = _inputs(1)
    assert part == "private"
    assert torch.allclose(restorer.restore(x, noise), engine.restore(x, noise), atol=1e-6)


def test_missing_or_corrupt_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        UUNetEngine.load(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="corrupt"):
        UUNetEngine.load(bad)


def test_bad_shapes_and_untrained_attribute_requests_are_refused() -> None:
    engine = UUNetEngine.from_config(TINY)
    x, noise = _inputs(2)
    with pytest.raises(BadInputError):
        engine.deidentify(x[:, :, :32], noise)
    with pytest.raises(BadInputError):
        engine.deidentify(x, noise[:1])
    with pytest.raises(BadInputError, match="not trained"):
        engine.deidentify(x, noise, {"beard": "keep"})
    with pytest.raises(BadInputError, match="unknown attribute"):
        engine.deidentify(x, noise, {"hat": "keep"})


def test_attribute_requests_matching_the_policy_pass() -> None:
    cfg = ModelConfig(width=0.0625, attribute_policy=(("beard", "keep"),))
    engine = UUNetEngine.from_config(cfg)
    x, noise = _inputs(1)
    assert engine.deidentify(x, noise, {"beard": "keep"}).shape == (1, 3, 64, 64)
    with pytest.raises(BadInputError, match="trained to keep"):
        engine.deidentify(x, noise, {"beard": "change"})


def test_engine_contract_attributes() -> None:
    engine = UUNetEngine.from_config(TINY)
    assert engine.crop_size == 64 and engine.keyed and engine.model_id == "uunet-product-w0.0625"
    assert engine.model_version == "0.1.0"


def test_engine_leaves_a_wrapped_training_generator_in_training_mode() -> None:
    from shared.model.unet import UUNetGenerator

    gen = UUNetGenerator(ModelConfig(width=0.0625)).train()
    bn = next(m for m in gen.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.running_mean is not None
    before = bn.running_mean.clone()
    engine = UUNetEngine(gen)
    x, noise = _inputs(2)
    engine.deidentify(x, noise)
    assert gen.training and bn.momentum == 0.1
    assert torch.equal(bn.running_mean, before)  # faithful inference does not move the statistics


def test_asking_for_cuda_without_a_gpu_is_a_config_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="no CUDA"):
        UUNetEngine.from_config(TINY, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_engine_returns_outputs_on_the_input_device() -> None:
    engine = UUNetEngine.from_config(TINY, device="cuda")
    x, noise = _inputs(2)
    out = engine.deidentify(x, noise)
    assert out.device == x.device
    assert torch.allclose(out, UUNetEngine.from_config(TINY).deidentify(x, noise), atol=1e-3)
