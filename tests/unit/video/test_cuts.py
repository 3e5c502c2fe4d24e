"""Scene cuts end every track: no face (and so no donor) coasts from one shot into the next."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from skimage import data

from shared.video.cuts import SceneCuts
from shared.video.detect import make_detector
from shared.video.faces import FaceStage, FaceStageOptions
from shared.video.types import FrameBatch


def _shots() -> np.ndarray:
    """12 frames of the astronaut, then 12 of a blinds-like texture with no face, then 12 of the
    astronaut again: [36,256,256,3]."""
    face = np.ascontiguousarray(data.astronaut()[::2, ::2])
    yy = np.arange(256)[:, None, None]
    blinds = np.broadcast_to(np.where((yy // 6) % 2, 200, 60), (256, 256, 3)).astype(np.uint8)
    return np.stack([face] * 12 + [blinds] * 12 + [face] * 12)


def test_hard_cuts_are_found_and_motion_is_not() -> None:
    frames = _shots()
    cuts = SceneCuts()
    found = [i for i, f in enumerate(frames) if cuts.is_cut(f)]
    assert found == [12, 24]
    steady = SceneCuts()
    shifted = [np.roll(frames[0], s, axis=1) for s in range(0, 24, 2)]  # a slow pan
    assert not any(steady.is_cut(f) for f in shifted)
    fast = SceneCuts()  # 8 px a frame sideways and 3 down (3% of the width): motion, not a cut
    panned = [np.roll(np.roll(frames[0], 8 * s, axis=1), 3 * s, axis=0) for s in range(12)]
    assert not any(fast.is_cut(f) for f in panned)


def test_cuts_are_found_in_grey_footage() -> None:
    # Night and IR cameras film in grey: every pixel in one hue and saturation, so a colour
    # histogram cannot tell the shots apart (the earlier rule found no cut here).
    grey = np.repeat(_shots().mean(axis=3, keepdims=True).astype(np.uint8), 3, axis=3)
    cuts = SceneCuts()
    assert [i for i, f in enumerate(grey) if cuts.is_cut(f)] == [12, 24]


def test_tracks_end_at_a_cut_and_nothing_is_painted_on_the_faceless_shot() -> None:
    frames = _shots()
    batch = FrameBatch(frames, np.arange(36), np.arange(36), Fraction(1, 25))
    stage = FaceStage(make_detector("yunet"), FaceStageOptions(every=5))
    boxes = [b for _, per_frame in stage.run([batch]) for b in per_frame]
    assert stage.cut_frames == [12, 24]
    assert all(len(b) == 1 for b in boxes[:12]) and all(len(b) == 1 for b in boxes[24:])
    assert all(not b for b in boxes[12:24])  # the old track does not coast onto the blinds
    before = {b.track_id for per in boxes[:12] for b in per}
    after = {b.track_id for per in boxes[24:] for b in per}
    assert len(before) == len(after) == 1 and before != after  # same place, new shot, new track
    assert all(b.landmarks is not None for per in boxes for b in per)  # landmarks flow through
