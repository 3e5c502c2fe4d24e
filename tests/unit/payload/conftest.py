"""A textured clip with one "face" box, for channel tests without real media.

The scene is static, with sensor-like noise in every frame: libx264 (``veryfast``) codes the mark's
changes in such a scene, while a noiseless static scene is skipped outright (see docs/PAYLOAD.md).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

WIDTH, HEIGHT = 512, 384


def textured_clip(frames: int, seed: int = 0) -> np.ndarray:
    """uint8 [frames,384,512,3]: smooth random texture (skin, walls, hair), noise sigma 2 a frame."""
    rng = np.random.default_rng(seed)
    scene = rng.normal(size=(HEIGHT, WIDTH, 3)).astype(np.float32)
    scene = cv2.GaussianBlur(scene, (0, 0), 10.0) * 1500 + 120
    noise = rng.normal(0, 2.0, size=(frames, HEIGHT, WIDTH, 1)).astype(np.float32)
    return np.clip(np.rint(scene[None] + noise), 0, 255).astype(np.uint8)


def box_at(frame: int) -> tuple[float, float, float, float]:
    """A 200x240 face box near the centre, drifting right a tenth of a pixel a frame."""
    x0 = WIDTH / 2 - 100 + 0.1 * frame
    y0 = HEIGHT / 2 - 120
    return (x0, y0, x0 + 200, y0 + 240)


@pytest.fixture(scope="session")
def clip48() -> np.ndarray:
    return textured_clip(48)
