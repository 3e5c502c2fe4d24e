"""Labelled crop folders: name parsing (reference convention) and batch shapes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from shared.data.folder import FolderFaces, FolderOptions, parse_name
from shared.domain.errors import BadInputError


def test_parses_a_reference_p_destre_crop_name() -> None:
    label = parse_name("13-11-2019-2-4_1186_171_1_3_0_4_1_1_00.jpg")
    assert label.session == "13-11-2019-2-4" and label.day == "13-11-2019"
    assert label.frame == 1186 and label.identity == 171
    assert label.attributes == (1, 3, 0, 4, 1, 1)
    assert label.trait("beard") == 1 and label.trait("identity") == 171


def test_unknown_identity_is_negative() -> None:
    assert parse_name("13-11-2019-2-4_595_-1_0_3_0_1_1_1_00.jpg").identity == -1


@pytest.mark.parametrize(
    "name", ["face.jpg", "s_1_2_3.jpg", "s_x_171_1_3_0_4_1_1.jpg", "_1_2_1_1_1_1_1_1.jpg"]
)
def test_malformed_names_are_a_bad_input_error(name: str) -> None:
    with pytest.raises(BadInputError, match="crop name"):
        parse_name(name)


def _write_png(path: Path, colour: tuple[int, int, int]) -> None:
    img = np.zeros((30, 24, 3), np.uint8)
    img[:] = colour
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 24, 30, "rgb24"
        for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            out.mux(packet)


@pytest.fixture
def crop_folder(tmp_path: Path) -> Path:
    for ident in range(3):
        for session in ("01-01-2020-1-1", "02-01-2020-1-2"):
            sub = tmp_path / session
            sub.mkdir(exist_ok=True)
            for frame in range(2):
                colour = (80 * ident, 40 * frame, 100)
                _write_png(sub / f"{session}_{frame}_{ident}_{ident % 2}_0_1_2_1_1_00.png", colour)
    return tmp_path


def test_folder_yields_paired_sessions_of_the_same_subjects(crop_folder: Path) -> None:
    source = FolderFaces(crop_folder, seed=0)
    batch = source.session_batch(subjects=2, per_session=3)
    assert batch.x1.shape == batch.x2.shape == (6, 3, 64, 64)
    assert batch.attributes is not None and batch.attributes.shape == (6, 6)
    # Each crop's colour encodes its identity in the red channel: rows of x1 and x2 agree.
    assert torch.allclose(batch.x1[:, 0, 0, 0], batch.x2[:, 0, 0, 0], atol=0.02)
    assert torch.allclose(batch.x1[:, 0, 0, 0], batch.ids.float() * 80 / 255, atol=0.02)


def test_folder_trait_batch_uses_attribute_labels(crop_folder: Path) -> None:
    batch = FolderFaces(crop_folder, seed=0).trait_batch(classes=2, per_class=2, trait="gender")
    assert sorted(set(batch.labels.tolist())) == [0, 1] and batch.images.shape == (4, 3, 64, 64)


def test_folder_with_a_malformed_name_fails_clearly_or_skips(crop_folder: Path) -> None:
    _write_png(crop_folder / "holiday.png", (1, 2, 3))
    with pytest.raises(BadInputError, match=r"holiday\.png"):
        FolderFaces(crop_folder)
    assert len(FolderFaces(crop_folder, options=FolderOptions(skip_malformed=True))) == 12


def test_too_few_subjects_is_a_bad_input_error(crop_folder: Path) -> None:
    with pytest.raises(BadInputError, match="a batch needs 5"):
        FolderFaces(crop_folder).session_batch(subjects=5, per_session=1)
