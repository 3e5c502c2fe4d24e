"""A small image donor bank built in memory (no detector runs), and the astronaut as a frame."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from shared.surrogate.donors import DonorBank
from shared.surrogate.features import measure
from shared.video.types import FaceBox

ASTRONAUT_BOX = FaceBox(
    178, 63, 267, 175, 0.93, 1, (200, 101, 247, 102, 220, 124, 198, 142, 239, 143)
)


def _donor(rng: np.random.Generator, tone: tuple[int, int, int]) -> np.ndarray:
    """A 64 px synthetic face: skin oval, dark eyes, nose shade and mouth at fixed landmarks."""
    import cv2

    img = np.full((64, 64, 3), 60, np.uint8)
    cv2.ellipse(img, (32, 36), (17, 22), 0, 0, 360, tone, -1)
    for x in (24, 40):
        cv2.circle(img, (x, 30), 3, (40, 30, 30), -1)
    cv2.line(img, (32, 32), (32, 40), tuple(int(c * 0.8) for c in tone), 2)
    cv2.line(img, (26, 47), (38, 47), (120, 40, 40), 2)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


POINTS = np.array([[24, 30], [40, 30], [32, 39], [26, 47], [38, 47]], dtype=np.float64)


@pytest.fixture(scope="session")
def bank() -> DonorBank:
    """96 image donors with varied skin tones (kind "images")."""
    rng = np.random.default_rng(0)
    images, feats = [], []
    for i in range(96):
        tone = (
            int(150 + 80 * (i % 4) / 3),
            int(110 + 60 * (i % 3) / 2),
            int(90 + 50 * (i % 5) / 4),
        )
        img = _donor(rng, tone)
        pts = POINTS + rng.normal(0, 0.3, POINTS.shape)
        if i % 2:  # every other donor looks the other way
            pts[2, 0] += 3.0
        images.append(img)
        feats.append(measure(img, pts).as_row())
    points = np.stack([POINTS] * 96)
    return DonorBank(kind="images", points=points, features=np.stack(feats),
                     quality=np.ones(96), size=64, images=np.stack(images), bank_id="test")  # fmt: skip


@pytest.fixture()
def astronaut() -> np.ndarray:
    """uint8 [1,512,512,3]: one frame with one real face (ASTRONAUT_BOX)."""
    return np.ascontiguousarray(data.astronaut()[None])
