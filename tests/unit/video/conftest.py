"""Small clips written at run time for the video stage tests (no media file is committed)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from shared.video.synthetic import SceneSpec, write_clip
from shared.video.types import FaceBox


@pytest.fixture(scope="session")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[FaceBox]]]:
    """A 160x120, 24-frame, 30000/1001 fps clip with one real face moving; ground-truth boxes."""
    path = tmp_path_factory.mktemp("clips") / "face.mp4"
    spec = SceneSpec(160, 120, frames=24, fps=Fraction(30000, 1001), face_px=(44, 48), speed_px=2.5)
    return path, write_clip(path, spec)
