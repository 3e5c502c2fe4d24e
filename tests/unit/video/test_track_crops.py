"""Tracker ids stay stable and are never reused; crop -> paste round trips only touch face boxes."""

from __future__ import annotations

import numpy as np
import torch
from skimage import data

from shared.video.crops import crop_faces, extract_regions, paste_faces, paste_regions
from shared.video.track import IouTracker, TrackerOptions
from shared.video.types import FaceBox


def _box(x: float, y: float, s: float = 30.0) -> FaceBox:
    return FaceBox(x, y, x + s, y + s, 0.9)


def test_tracker_keeps_ids_of_two_moving_faces_through_a_short_miss() -> None:
    tracker = IouTracker()
    ids = []
    for f in range(12):
        dets = [_box(10 + 4 * f, 20), _box(200 - 3 * f, 100)]
        if f == 5:
            dets = dets[:1]  # the second face is missed once
        ids.append([b.track_id for b in tracker.update(f, dets)])
    assert ids[0] == [1, 2]
    assert all(row == [1, 2] for i, row in enumerate(ids) if i != 5)
    assert ids[5] == [1]
    assert [t.track_id for t in tracker.tracks()] == [1, 2]


def test_tracker_follows_a_fast_small_face_across_a_keyframe_gap() -> None:
    tracker = IouTracker()
    seen = [tracker.update(f, [_box(10 + 6 * f, 40, 16)])[0].track_id for f in range(0, 30, 5)]
    assert seen == [1] * 6


def test_tracker_never_reuses_an_ended_track_id() -> None:
    tracker = IouTracker(TrackerOptions(max_gap=3))
    assert tracker.update(0, [_box(10, 10)])[0].track_id == 1
    assert tracker.update(10, [_box(10, 10)])[0].track_id == 2  # gap > max_gap: a new subject
    assert tracker.update(11, [_box(300, 300)])[0].track_id == 3
    assert [t.track_id for t in tracker.tracks()] == [1, 2, 3]


def _frames() -> np.ndarray:
    img = data.astronaut()[:240, :320]
    return np.stack([img, img[:, ::-1]]).copy()  # [2,240,320,3]


BOXES = [
    [FaceBox(178, 63, 267, 175, 0.9, 1), FaceBox(-10, -5, 30, 40, 0.5, 2)],
    [FaceBox(60, 60, 140, 160, 0.9, 3)],
]


def test_crops_are_float_tensors_in_unit_range() -> None:
    crops, geoms = crop_faces(_frames(), BOXES)
    assert crops.shape == (3, 3, 64, 64) and crops.dtype == torch.float32
    assert float(crops.min()) >= 0.0 and float(crops.max()) <= 1.0
    assert [g.pos for g in geoms] == [0, 0, 1] and [g.track_id for g in geoms] == [1, 2, 3]


def test_pasting_identical_crops_leaves_the_frame_nearly_unchanged_outside_and_inside() -> None:
    frames = _frames()
    original = frames.copy()
    crops, geoms = crop_faces(frames, BOXES)
    paste_faces(frames, crops, geoms)
    diff = np.abs(frames.astype(int) - original.astype(int))
    inside = np.zeros(frames.shape[:3], dtype=bool)
    for g in geoms:
        inside[g.pos, g.cy0 : g.cy1, g.cx0 : g.cx1] = True
    assert diff[~inside].max() == 0  # nothing outside the crop squares changes
    assert diff[inside].mean() < 6.0  # inside: only the 64x64 resampling blur


def test_pasting_a_different_face_changes_the_box_and_feathers_the_border() -> None:
    frames = _frames()
    original = frames.copy()
    crops, geoms = crop_faces(frames, [*BOXES[:1], []])
    paste_faces(frames, torch.zeros_like(crops), geoms)  # a black "surrogate"
    g = geoms[0]
    centre = frames[0, (g.cy0 + g.cy1) // 2, (g.cx0 + g.cx1) // 2]
    assert centre.max() <= 2  # the face box is fully replaced
    ring = frames[0, g.cy0, g.cx0 : g.cx1].astype(int) - original[0, g.cy0, g.cx0 : g.cx1]
    assert np.abs(ring).max() <= 2  # the crop's outer border is untouched: no seam


def test_extracted_regions_paste_back_exactly() -> None:
    frames = _frames()
    original = frames.copy()
    _, geoms = crop_faces(frames, BOXES)
    regions = [extract_regions(frames[g.pos], [g])[0] for g in geoms]
    frames[:] = 0
    for region, g in zip(regions, geoms, strict=True):
        paste_regions(frames[g.pos], [region], [g])
        assert np.array_equal(
            frames[g.pos, g.cy0 : g.cy1, g.cx0 : g.cx1],
            original[g.pos, g.cy0 : g.cy1, g.cx0 : g.cx1],
        )
