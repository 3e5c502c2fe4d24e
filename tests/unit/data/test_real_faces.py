"""Real faces shipped in packages: crops are 64x64 faces (skipped where a source is absent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shared.data.real_faces import crop_face, load_real_faces


def test_crop_face_pads_at_the_border_and_returns_64px() -> None:
    img = np.full((40, 50, 3), 200, np.uint8)
    crop = crop_face(img, (0, 0, 20, 20), margin=0.5)
    assert crop.shape == (3, 64, 64) and torch.allclose(crop, torch.full_like(crop, 200 / 255))


def test_skimage_astronaut_face_is_found() -> None:
    pytest.importorskip("skimage")
    pytest.importorskip("yuface")
    faces = load_real_faces(sources=("skimage",))
    names = {f.name for f in faces}
    assert "skimage/astronaut" in names
    astro = next(f for f in faces if f.name == "skimage/astronaut")
    x, y, w, h = astro.boxes[0]
    assert 150 < x + w / 2 < 260 and 60 < y + h / 2 < 200  # her face, upper middle of the image
    assert astro.crops.shape == (1, 3, 64, 64)
