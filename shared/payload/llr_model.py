"""The learned soft decoder: a logistic calibration of the observation features (``evidence``).

P(bit = 1 | observation) = sigmoid(soft * w . features): the weight of an observation is linear in
its features, and the soft value's sign carries the bit, so the model is symmetric in the two bits.
It is fitted by iteratively reweighted least squares on synthetic scenes (DCGAN faces on textured
backgrounds) carried through real libx264 encodes and transcodes (``scripts/train_payload_llr.py``);
no real face or evaluation clip is used. Weights are a small JSON file with its own provenance.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from shared.domain.errors import ConfigError
from shared.payload.evidence import FEATURES


@dataclass(frozen=True)
class LlrModel:
    """Weights over ``evidence.FEATURES`` and where they came from."""

    weights: tuple[float, ...]
    features: tuple[str, ...] = FEATURES
    trained_on: dict[str, object] = field(default_factory=dict)

    def weight(self, features: np.ndarray) -> np.ndarray:
        """Per-observation weight (>= 0) from features [m, k]."""
        return np.clip(features @ np.asarray(self.weights), 0.0, None)

    def save(self, path: Path) -> None:
        """Write the model as JSON."""
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> LlrModel:
        """Read a model written by ``save``; ConfigError when it does not fit this code."""
        try:
            data = json.loads(Path(path).read_text())
            model = cls(tuple(data["weights"]), tuple(data["features"]), data.get("trained_on", {}))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"cannot read the payload decoder model {path}") from err
        if model.features != FEATURES or len(model.weights) != len(FEATURES):
            raise ConfigError(f"payload decoder model {path} was made for other features")
        return model


def fit(features: np.ndarray, soft: np.ndarray, bits: np.ndarray, l2: float = 1e-3,
        iterations: int = 25) -> tuple[float, ...]:  # fmt: skip
    """Logistic regression of ``bits`` on ``soft * features`` (Newton steps, no intercept)."""
    x = features * soft[:, None]
    y = bits.astype(np.float64)
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return tuple(float(v) for v in w)
