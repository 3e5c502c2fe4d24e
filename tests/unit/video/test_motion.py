"""The motion gate points keyframe detection at the changed parts of a static scene."""

from __future__ import annotations

import numpy as np

from shared.video.motion import MotionGate


def _scene() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(60, 200, size=(240, 320, 3), dtype=np.uint8)


def test_first_keyframe_asks_for_the_whole_frame_and_a_static_scene_for_nothing() -> None:
    gate = MotionGate()
    frame = _scene()
    assert gate.regions(frame) is None
    assert gate.regions(frame.copy()) == []


def test_a_moving_patch_yields_a_window_around_it() -> None:
    gate = MotionGate()
    frame = _scene()
    gate.regions(frame)
    moved = frame.copy()
    moved[100:140, 200:240] = 255  # something appeared here
    rects = gate.regions(moved)
    assert rects is not None and len(rects) == 1
    x0, y0, x1, y1 = rects[0]
    assert x0 <= 200 and y0 <= 100 and x1 >= 240 and y1 >= 140
    assert (x1 - x0) * (y1 - y0) < 0.5 * 320 * 240


def test_a_scene_change_falls_back_to_the_whole_frame() -> None:
    gate = MotionGate()
    gate.regions(_scene())
    assert gate.regions(255 - _scene()) is None
