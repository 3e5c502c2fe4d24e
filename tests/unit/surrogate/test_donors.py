"""The keyed donor choice, the bank file format, and the shipped DCGAN bank."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from shared.domain.errors import ConfigError
from shared.surrogate.donors import DEFAULT_BANK, DonorBank, load_bank, save_bank
from shared.surrogate.features import Features, calm_eye_rims, clear_forehead

TARGET = Features(yaw=0.05, tone=np.array([60.0, 15.0, 20.0]), mouth=0.1, hair=0.1)


def test_same_key_clip_and_track_choose_the_same_donor(bank: DonorBank) -> None:
    a = bank.choose(b"key-1", "clip", 3, TARGET)
    assert bank.choose(b"key-1", "clip", 3, TARGET) == a


def test_other_keys_clips_and_tracks_choose_other_donors(bank: DonorBank) -> None:
    base = bank.choose(b"key-1", "clip", 3, TARGET)[0]
    by_key = {bank.choose(f"key-{i}".encode(), "clip", 3, TARGET)[0] for i in range(20)}
    by_clip = {bank.choose(b"key-1", f"clip-{i}", 3, TARGET)[0] for i in range(20)}
    by_track = {bank.choose(b"key-1", "clip", t, TARGET)[0] for t in range(20)}
    # 64 candidates: 20 draws give well over 10 distinct donors (a collision now and then).
    assert len(by_key) > 10 and len(by_clip) > 10 and len(by_track) > 10
    assert any(d != base for d in by_key)


def test_a_donor_taken_by_another_track_is_skipped(bank: DonorBank) -> None:
    first, _ = bank.choose(b"k", "c", 1, TARGET)
    again, _ = bank.choose(b"k", "c", 1, TARGET, exclude=frozenset({first}))
    assert again != first


def test_keyed_candidates_start_with_the_choice_and_skip_taken_donors(bank: DonorBank) -> None:
    first = bank.choose(b"k", "c", 1, TARGET)
    three = bank.keyed(b"k", "c", 1, TARGET, count=3)
    assert three[0] == first and len({i for i, _ in three}) == 3
    rest = bank.keyed(b"k", "c", 1, TARGET, exclude=frozenset({first[0]}), count=2)
    assert rest == three[1:]
    everyone = frozenset(range(len(bank)))  # all taken: the keyed ones are given anyway
    assert bank.keyed(b"k", "c", 1, TARGET, exclude=everyone, count=3) == three


def test_a_donor_turned_the_other_way_is_mirrored(bank: DonorBank) -> None:
    left = Features(-0.3, TARGET.tone, TARGET.mouth, TARGET.hair)
    idx, mirrored = bank.choose(b"k", "c", 1, left)
    assert mirrored == (np.sign(bank.features[idx, 0]) != np.sign(left.yaw))
    donor = bank.donor(idx, mirrored)
    plain = bank.donor(idx, False)
    if mirrored:
        assert np.array_equal(donor.image, plain.image[:, ::-1])
        assert donor.points[0, 0] == pytest.approx(63 - plain.points[1, 0])


def test_bank_file_round_trip(bank: DonorBank, tmp_path: Path) -> None:
    path = save_bank(tmp_path / "bank.pt", bank)
    back = load_bank(path)
    assert len(back) == len(bank) and back.kind == "images" and back.bank_id.startswith("images-")
    assert np.array_equal(back.donor(5).image, bank.donor(5).image)
    assert np.allclose(back.features, bank.features, atol=1e-4)


def test_damaged_or_foreign_bank_files_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a bank")
    with pytest.raises(ConfigError, match="corrupt or not a donor bank"):
        load_bank(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_bank(tmp_path / "missing.pt")


@pytest.mark.skipif(not DEFAULT_BANK.exists(), reason="no shipped donor bank")
def test_shipped_bank_renders_faces_with_their_landmarks() -> None:
    bank = load_bank(None)
    assert bank.kind == "dcgan" and len(bank) > 1000
    donor = bank.donor(0)
    assert donor.image.shape == (64, 64, 3) and donor.image.dtype == np.uint8
    assert np.all((donor.points > 0) & (donor.points < 64))
    assert donor.image.std() > 10  # a picture, not a flat field


def _a_star(image: np.ndarray, mask: np.ndarray) -> float:
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return float(lab[..., 1][mask].mean())


def test_red_rimmed_eyes_are_calmed_to_the_cheeks_and_nothing_else_moves() -> None:
    image = np.ascontiguousarray(skimage_data.astronaut())
    points = np.array([[200.0, 101], [247, 102], [220, 124], [198, 142], [239, 143]])  # YuNet's
    sore = image.copy()
    for x, y in points[:2]:  # red lids, as some generated donors have
        cv2.ellipse(sore, (int(x), int(y)), (14, 9), 0, 0, 360, (205, 70, 80), 4)
    rims = np.any(sore != image, axis=2)
    cheek = np.zeros(rims.shape, dtype=bool)
    cheek[150:160, 195:205] = True
    calmed = calm_eye_rims(sore, points)
    assert _a_star(sore, rims) - _a_star(sore, cheek) > 30
    assert _a_star(calmed, rims) - _a_star(calmed, cheek) < 10
    far = np.ones(rims.shape, dtype=bool)
    far[60:150, 160:290] = False  # the eyes and ~0.5 eye distances around them
    assert np.array_equal(calmed[far], sore[far])
    # Natural lids get at most a faint touch (the astronaut's: 5 levels at most).
    assert np.abs(calm_eye_rims(image, points).astype(int) - image).max() <= 8


def test_a_folder_banks_donors_come_out_calmed(bank: DonorBank) -> None:
    image, points = bank.images[3], bank.points[3]
    tidied = clear_forehead(calm_eye_rims(image, points), points)
    assert np.array_equal(bank.donor(3).image, tidied)


def test_a_fringe_over_the_forehead_becomes_skin_and_the_face_below_stays() -> None:
    image = np.ascontiguousarray(skimage_data.astronaut())
    points = np.array([[200.0, 101], [247, 102], [220, 124], [198, 142], [239, 143]])  # YuNet's
    iod = 47.0
    fringe = image.copy()  # dark bangs from 0.55 to 0.95 eye distances above the eye line
    cv2.rectangle(
        fringe, (185, int(101 - 0.95 * iod)), (262, int(101 - 0.55 * iod)), (40, 30, 25), -1
    )
    band = np.zeros(image.shape[:2], dtype=bool)
    band[int(101 - 0.9 * iod) : int(101 - 0.62 * iod), 205:243] = True
    cheek_lum = float(image[150:160, 195:205].mean())
    cleared = clear_forehead(fringe, points)
    assert fringe[band].mean() < 0.3 * cheek_lum
    assert abs(float(cleared[band].mean()) - cheek_lum) < 0.2 * cheek_lum
    below = np.zeros(band.shape, dtype=bool)
    below[int(101 - 0.3 * iod) :, :] = True  # the eyes and everything under them
    assert np.array_equal(cleared[below], fringe[below])
    plain = np.full((64, 64, 3), (200, 160, 140), np.uint8)  # a forehead with nothing on it
    pts = np.array([[24.0, 28], [40, 28], [32, 38], [26, 46], [38, 46]])
    assert clear_forehead(plain, pts) is plain
