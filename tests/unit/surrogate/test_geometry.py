"""Landmark geometry: similarity fits, pose proxies, plausibility, the face oval."""

from __future__ import annotations

import numpy as np
import pytest

from shared.surrogate.geometry import (
    MIRROR_ORDER,
    apply,
    as_points,
    fit_similarity,
    oval,
    plausible,
    pose,
)
from shared.surrogate.masks import oval_mask

# YuNet's landmarks on scikit-image's astronaut (eye, eye, nose, mouth, mouth), box 89 px wide.
ASTRONAUT = as_points((200, 101, 247, 102, 220, 124, 198, 142, 239, 143))
ASTRONAUT_BOX_W = 89.0


def test_similarity_fit_recovers_a_known_rotation_scale_and_shift() -> None:
    t = np.radians(20.0)
    m = np.array(
        [[1.7 * np.cos(t), -1.7 * np.sin(t), 30.0], [1.7 * np.sin(t), 1.7 * np.cos(t), -12.0]]
    )
    fitted = fit_similarity(ASTRONAUT, apply(m, ASTRONAUT))
    assert np.allclose(fitted, m, atol=1e-9)


def test_similarity_fit_refuses_degenerate_landmarks() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        fit_similarity(np.zeros((5, 2)), ASTRONAUT)


def test_pose_of_a_frontal_face_and_its_mirror() -> None:
    p = pose(ASTRONAUT)
    assert 40 < p.iod < 55 and abs(p.roll) < 3 and 0.3 < p.pitch < 0.8
    mirrored = ASTRONAUT[list(MIRROR_ORDER)].copy()
    mirrored[:, 0] = 511 - mirrored[:, 0]
    m = pose(mirrored)
    assert m.yaw == pytest.approx(-p.yaw, abs=1e-9)  # a turned face turns the other way
    assert m.iod == pytest.approx(p.iod)


def test_real_landmarks_are_plausible_and_garbage_is_not() -> None:
    assert plausible(ASTRONAUT, ASTRONAUT_BOX_W, 0.9)
    assert not plausible(ASTRONAUT, ASTRONAUT_BOX_W, 0.3)  # too weak a detection
    upside_down = ASTRONAUT.copy()
    upside_down[:, 1] = 250 - upside_down[:, 1]  # mouth above the eyes
    assert not plausible(upside_down, ASTRONAUT_BOX_W, 0.9)
    squashed = ASTRONAUT.copy()
    squashed[3:, 1] = squashed[0, 1] + 5  # mouth on the eye line
    assert not plausible(squashed, ASTRONAUT_BOX_W, 0.9)
    assert not plausible(ASTRONAUT, ASTRONAUT_BOX_W * 6, 0.9)  # landmarks too small for the box


def test_face_oval_covers_every_landmark_and_fades_to_zero() -> None:
    mask = oval_mask(ASTRONAUT, (300, 400), scale=1.18, feather=0.3)  # the donor oval's scale
    for x, y in ASTRONAUT:
        assert mask[int(y), int(x)] > 0.9
    centre, axes, _ = oval(ASTRONAUT)
    assert axes[0] > 1.8 * pose(ASTRONAUT).iod
    assert mask[0, 0] == 0.0 and mask[-1, -1] == 0.0
    assert mask[int(centre[1]), int(centre[0])] == pytest.approx(1.0)


# YuNet's landmarks on the crowd eval clip's portrait at frame 200: a real face turned ~35 degrees
# to image-left, its nose tip (359, 460) left of both eyes.
TURNED = as_points((372, 376, 479, 390, 359, 460, 370, 536, 466, 544))


def test_oval_of_a_turned_face_stops_at_its_nose_and_reaches_its_far_cheek() -> None:
    iod, nose = pose(TURNED).iod, TURNED[2]
    mask = oval_mask(TURNED, (800, 900), scale=1.25, feather=0.3)  # the composite's target oval
    covered = np.nonzero(mask[int(nose[1])] >= 0.5)[0]
    assert mask[int(nose[1]), int(nose[0])] > 0.9  # the nose tip is still replaced
    assert nose[0] - covered[0] < 0.25 * iod  # ...but the oval stops near it, not on the wall
    eye_mid = (TURNED[0] + TURNED[1]) / 2
    centre, _, _ = oval(TURNED, 1.25)
    assert centre[0] > eye_mid[0] + 0.2 * iod  # it lies toward the far cheek and the ear
    # A frontal face's oval is centred on its landmarks' midline.
    frontal_centre, _, _ = oval(ASTRONAUT)
    mid = (ASTRONAUT[0, 0] + ASTRONAUT[1, 0]) / 2
    assert abs(frontal_centre[0] - mid) < 0.1 * pose(ASTRONAUT).iod
