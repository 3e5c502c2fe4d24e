"""The learned soft decoder: fitting, the shipped weights, and refusing a model for other features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shared.domain.errors import ConfigError
from shared.payload.evidence import FEATURES, analytic_weight, gather
from shared.payload.llr_model import LlrModel, fit

SHIPPED = Path(__file__).resolve().parents[3] / "models" / "payload" / "llr.json"


def _observations(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy soft values whose reliability grows with their cell's latticeness."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, n)
    quality = rng.uniform(0, 1, n // 10).repeat(10)  # ten frames per cell
    noise = rng.normal(0, 1.2 - quality, n)
    soft = np.clip((2 * bits - 1) * 0.8 + noise, -1, 1)
    lattice = np.clip(quality + rng.normal(0, 0.1, n), -1, 1)
    ev = gather(soft, lattice, np.arange(n), np.arange(n) // 10, np.arange(n) % 10, np.zeros(n))
    return ev.features, soft, bits


def test_fitted_weights_beat_plain_soft_values() -> None:
    features, soft, bits = _observations(20_000)
    model = LlrModel(fit(features, soft, bits))
    test_f, test_s, test_b = _observations(20_000, seed=1)
    weighted = model.weight(test_f) * test_s

    def log_loss(llr: np.ndarray) -> float:
        return float(np.mean(np.log1p(np.exp(-(2 * test_b - 1) * llr))))

    assert log_loss(weighted) < log_loss(test_s)
    assert np.all(model.weight(test_f) >= 0)


def test_analytic_weight_grows_with_latticeness() -> None:
    ev = gather(np.ones(4), np.array([0.0, 0.3, 0.6, 0.9]), np.arange(4), np.arange(4),
                np.zeros(4), np.zeros(4))  # fmt: skip
    assert np.all(np.diff(analytic_weight(ev.features)) > 0)


def test_save_load_round_trip_and_foreign_models_are_refused(tmp_path: Path) -> None:
    model = LlrModel(tuple(float(i) for i in range(len(FEATURES))), trained_on={"scenes": 1})
    model.save(tmp_path / "m.json")
    assert LlrModel.load(tmp_path / "m.json") == model
    (tmp_path / "old.json").write_text(json.dumps({"weights": [1.0], "features": ["one"]}))
    with pytest.raises(ConfigError, match="other features"):
        LlrModel.load(tmp_path / "old.json")
    with pytest.raises(ConfigError):
        LlrModel.load(tmp_path / "missing.json")


def test_the_shipped_weights_load() -> None:
    model = LlrModel.load(SHIPPED)
    assert len(model.weights) == len(FEATURES) and model.trained_on["scenes"]
