"""The donor painter: one keyed identity per track, deterministic per key, a blur for anything not
confirmed as a face, and nothing changed outside a face's crop square."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from shared.surrogate.donors import ChoiceOptions, DonorBank
from shared.surrogate.features import likeness, measure
from shared.surrogate.geometry import as_points
from shared.surrogate.painters import DonorPainter, PainterOptions
from shared.video.crops import CROP_MARGIN, square_geom
from shared.video.types import FaceBox
from tests.unit.surrogate.conftest import ASTRONAUT_BOX

IDX = np.array([0])


def _paint(bank: DonorBank, frame: np.ndarray, key: bytes = b"k", clip: str = "c",
           box=ASTRONAUT_BOX) -> tuple[np.ndarray, DonorPainter]:  # type: ignore[no-untyped-def]  # fmt: skip
    painter = DonorPainter(bank, key, clip)
    out = frame.copy()
    painter.paint(out, IDX, [[box]])
    return out, painter


def _face(frame: np.ndarray) -> np.ndarray:
    b = ASTRONAUT_BOX
    return frame[0, int(b.y0) : int(b.y1), int(b.x0) : int(b.x1)].astype(np.int16)


def test_a_confirmed_face_gets_a_donor_and_the_rest_of_the_frame_is_untouched(
    bank: DonorBank, astronaut: np.ndarray
) -> None:
    out, painter = _paint(bank, astronaut)
    assert painter.stats.kinds == {"donor": 1}
    assert np.abs(_face(out) - _face(astronaut)).mean() > 8
    g = square_geom(ASTRONAUT_BOX, 0, 512, 512, CROP_MARGIN)
    outside = np.ones((512, 512), bool)
    outside[g.cy0 : g.cy1, g.cx0 : g.cx1] = False
    assert np.array_equal(out[0][outside], astronaut[0][outside])
    # The square's own border is never painted: no crop edge can show.
    ring = np.zeros((512, 512), bool)
    ring[g.cy0 : g.cy1, g.cx0 : g.cx1] = True
    ring[g.cy0 + 2 : g.cy1 - 2, g.cx0 + 2 : g.cx1 - 2] = False
    assert np.abs(out[0][ring].astype(int) - astronaut[0][ring]).max() <= 1


def test_same_key_same_surrogate_other_key_other_surrogate(
    bank: DonorBank, astronaut: np.ndarray
) -> None:
    a, pa = _paint(bank, astronaut, b"key-A")
    b, _ = _paint(bank, astronaut, b"key-A")
    c, pc = _paint(bank, astronaut, b"key-B")
    assert np.array_equal(a, b)
    assert pa._tracks[1].donor is not None and pc._tracks[1].donor is not None
    assert pa._tracks[1].donor.index != pc._tracks[1].donor.index
    assert np.abs(_face(a) - _face(c)).mean() > 3


def test_a_track_keeps_its_donor_and_a_new_track_gets_another(
    bank: DonorBank, astronaut: np.ndarray
) -> None:
    painter = DonorPainter(bank, b"k", "c")
    frames = np.repeat(astronaut, 3, axis=0)
    moved = [
        replace(ASTRONAUT_BOX, x0=ASTRONAUT_BOX.x0 + d, x1=ASTRONAUT_BOX.x1 + d) for d in (0, 2, 4)
    ]
    painter.paint(frames, np.arange(3), [[b] for b in moved])
    first = painter._tracks[1].donor
    assert first is not None
    painter.paint(astronaut.copy(), np.array([3]), [[ASTRONAUT_BOX.with_track(2)]])
    second = painter._tracks[2].donor
    assert painter._tracks[1].donor is first  # one identity per track
    assert second is not None and second.index != first.index  # a new track: another face


def test_an_unconfirmed_detection_gets_a_soft_blur_not_a_face(
    bank: DonorBank, astronaut: np.ndarray
) -> None:
    weak = replace(ASTRONAUT_BOX, score=0.4)
    out, painter = _paint(bank, astronaut, box=weak)
    assert painter.stats.kinds == {"blur": 1}
    face, orig = _face(out).astype(float), _face(astronaut).astype(float)
    grad = lambda im: np.abs(np.diff(im, axis=0)).mean()  # noqa: E731
    assert grad(face) < 0.6 * grad(orig)  # detail is gone: it is covered


def test_landmarks_that_do_not_form_a_face_are_not_confirmed(
    bank: DonorBank, astronaut: np.ndarray
) -> None:
    lm = list(ASTRONAUT_BOX.landmarks or ())
    lm[7], lm[9] = lm[1] - 30, lm[3] - 30  # mouth corners above the eyes
    _, painter = _paint(bank, astronaut, box=replace(ASTRONAUT_BOX, landmarks=tuple(lm)))
    assert painter.stats.kinds == {"blur": 1}


def _with_a_lookalike(bank: DonorBank, frame: np.ndarray, box: FaceBox) -> DonorBank:
    """Two of ``bank``'s donors and, as donor 0, the frame's own face (the worst donor there is)."""
    import cv2

    x0, y0, side = int(box.x0) - 10, int(box.y0) - 10, int(box.width) + 20
    own = cv2.resize(frame[0, y0 : y0 + side, x0 : x0 + side], (64, 64))
    assert box.landmarks is not None
    pts = (as_points(box.landmarks) - [x0, y0]) * (64 / side)
    images = np.stack([own, bank.donor(0).image, bank.donor(1).image])
    points = np.stack([pts, bank.points[0], bank.points[1]])
    feats = np.stack([measure(im, p).as_row() for im, p in zip(images, points, strict=True)])
    return DonorBank(kind="images", points=points, features=feats, quality=np.ones(3), size=64,
                     images=images, bank_id="lookalike")  # fmt: skip


def test_of_the_keyed_candidates_the_least_alike_is_kept(
    bank: DonorBank, astronaut: np.ndarray
) -> None:
    small = _with_a_lookalike(bank, astronaut, ASTRONAUT_BOX)
    keys = [f"key-{i}".encode() for i in range(6)]
    assert ASTRONAUT_BOX.landmarks is not None
    region, points = astronaut[0, 40:200, 150:300], as_points(ASTRONAUT_BOX.landmarks) - [150, 40]
    assert likeness(region, region, points) > 0.99
    assert likeness(region, region[::-1].copy(), points) < 0.5  # upside down: not alike
    picked: dict[tuple[int, float], list[int]] = {}
    for compare, start in ((1, 64.0), (3, 64.0), (3, 100.0)):  # the face is 89 px wide
        choice = ChoiceOptions(candidates=3, compare=compare, compare_from=start)
        for key in keys:
            painter = DonorPainter(
                small, key, "c", options=replace(PainterOptions(), choice=choice)
            )
            painter.paint(astronaut.copy(), IDX, [[ASTRONAUT_BOX]])
            donor = painter._tracks[1].donor
            assert donor is not None
            picked.setdefault((compare, start), []).append(donor.index)
    assert 0 in picked[1, 64.0]  # the key alone hands the lookalike to some keys...
    assert 0 not in picked[3, 64.0]  # ...comparing the candidates never does...
    assert picked[3, 100.0] == picked[1, 64.0]  # ...except on faces narrower than compare_from


def test_a_grey_frame_gets_a_grey_surrogate(bank: DonorBank, astronaut: np.ndarray) -> None:
    # Night (IR) cameras film in grey: a donor's own colour there would be a blue or red stain.
    import cv2

    grey = np.repeat(cv2.cvtColor(astronaut[0], cv2.COLOR_RGB2GRAY)[None, ..., None], 3, axis=3)
    out, painter = _paint(bank, grey)
    assert painter.stats.kinds == {"donor": 1}
    face = _face(out)
    assert np.abs(face - _face(grey)).mean() > 8  # painted...
    chroma = face.max(axis=-1) - face.min(axis=-1)  # ...and still grey (rounding aside)
    assert chroma.max() <= 3
