"""Grey copies of eval clips (night and IR footage): every frame and the rate kept, colour gone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.evaluation.corpus import EvalClip, _write, grey_copy
from shared.video.decode import iter_frames, probe


def test_a_grey_copy_keeps_every_frame_and_the_faces_and_drops_the_colour(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = []
    for i in range(12):
        f = np.zeros((48, 64, 3), np.uint8)
        f[..., 0], f[..., 1] = 200, 40 + 10 * i  # strongly coloured, changing
        f[8:24, 8:24] = rng.integers(0, 255, (16, 16, 3))
        frames.append(f)
    src = tmp_path / "colour.mp4"
    _write(src, iter(frames), (64, 48), 30)
    truth = [[(8.0, 8.0, 24.0, 24.0)]] * 12
    grey = grey_copy(EvalClip("colour", src, truth), tmp_path)
    assert grey.name == "colour-grey" and grey.truth is truth and grey.path.is_file()
    out = [f for b in iter_frames(grey.path, 8) for f in b.frames]
    assert len(out) == 12 and probe(grey.path).fps == 30
    spread = np.stack(out).astype(int)
    assert (spread.max(-1) - spread.min(-1)).max() <= 4  # grey, up to the codec's rounding
    luma = np.dot(frames[5][30, 40].astype(float), [0.299, 0.587, 0.114])
    assert out[5][30, 40, 0] == pytest.approx(luma, abs=6)  # the light is kept


def test_a_face_that_fills_the_frame_is_in_the_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    # YuNet scores a close-up portrait under 0.6 at full size (Tom Hanks in the crowd clip); the
    # half-size pass finds it, in full-size coordinates.
    import yuface
    from skimage import data

    from shared.evaluation.corpus import _fit, _photo_boxes
    from shared.video.types import box_iou

    canvas = _fit(data.astronaut()[40:150, 220:300], (1280, 720))
    (full,) = _photo_boxes(canvas)  # found at full size: the reference box
    real = yuface.detect

    def misses_large_faces(img: np.ndarray, conf: float) -> tuple[np.ndarray, ...]:
        scores, boxes, marks = real(img, conf=conf)
        keep = np.array([b[2] < 300 for b in boxes], dtype=bool)
        return scores[keep], boxes[keep], marks[keep]

    monkeypatch.setattr(yuface, "detect", misses_large_faces)
    (found,) = _photo_boxes(canvas)
    assert box_iou(found, full) > 0.7
