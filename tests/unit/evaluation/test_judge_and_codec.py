"""The judge, the detector and the real H.264 round trip on known inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from shared.evaluation.evaluate import meets, to_uint8_images
from shared.evaluation.h264 import h264_round_trip
from shared.evaluation.metrics import psnr


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    from skimage import data

    crop = data.astronaut()[30:230, 150:330]  # Eileen Collins' face with margin
    return np.asarray(Image.fromarray(crop).resize((64, 64), Image.Resampling.BICUBIC))


def test_judge_gives_zero_distance_for_the_same_crop_and_large_for_a_non_face(
    face: np.ndarray,
) -> None:
    from shared.evaluation.judge import MATCH_THRESHOLD, DlibJudge

    judge = DlibJudge()
    assert judge.distance(face, face) == 0.0
    assert judge.distance(face, np.full_like(face, 128)) >= MATCH_THRESHOLD


def test_detector_finds_a_real_face_and_not_a_flat_patch(face: np.ndarray) -> None:
    from shared.evaluation.judge import YuNetDetector

    det = YuNetDetector()
    assert det.finds_face(face)
    assert not det.finds_face(np.full((64, 64, 3), 128, np.uint8))


def test_h264_round_trip_returns_every_frame_close_to_the_input(face: np.ndarray) -> None:
    frames = [face, np.ascontiguousarray(face[:, ::-1]), face]
    out = h264_round_trip(frames, crf=23)
    assert len(out) == 3 and out[0].shape == face.shape
    assert 25.0 < psnr(face, out[0]) < 100.0  # lossy but close


def test_targets_are_checked_in_the_right_direction() -> None:
    assert meets("deid_rate", 0.96) is True and meets("deid_rate", 0.5) is False
    assert meets("track_mean_distance", 0.3) is True and meets("track_mean_distance", 0.7) is False
    assert meets("restore_ssim", 0.9) is None and meets("deid_rate", None) is None


def test_to_uint8_images_rounds_and_clamps() -> None:
    imgs = to_uint8_images(torch.tensor([[[[-1.0]], [[0.5]], [[2.0]]]]))
    assert imgs[0].tolist() == [[[0, 128, 255]]]
