"""``evaluate`` end to end on a tiny random model: every figure present and in range."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from shared.evaluation.evaluate import TARGETS, EvalSet, evaluate
from shared.model.config import ModelConfig
from shared.model.inference import UUNetEngine


def _crop(img: np.ndarray) -> torch.Tensor:
    small = np.array(Image.fromarray(img).resize((64, 64), Image.Resampling.BICUBIC))
    return torch.from_numpy(small).permute(2, 0, 1).float() / 255.0


@pytest.mark.slow
def test_evaluate_reports_every_figure_for_a_tiny_random_model() -> None:
    from skimage import data

    face = data.astronaut()[30:230, 150:330]
    crops = torch.stack(
        [_crop(face), _crop(np.ascontiguousarray(face[:, ::-1])), _crop(face[10:, 10:])]
    )
    engine = UUNetEngine.from_config(ModelConfig.product(0.0625))
    report = evaluate(engine, [EvalSet("tiny", crops, torch.tensor([0, 0, 1]))])
    figures = report["sets"]["tiny"]
    assert figures["faces"] == 3 and figures["tracks_with_2_frames"] == 1
    for key in (
        "deid_rate",
        "faces_stay_faces",
        "restore_match",
        "wrong_key_nonmatch",
        "h264_restore_match",
    ):
        assert 0.0 <= figures[key] <= 1.0
    assert figures["faces_ceiling_originals"] > 0  # the detector sees the real face
    assert (
        figures["h264_ceiling_psnr"] > figures["h264_restore_psnr"]
    )  # an untrained model restores nothing
    assert set(figures["meets_target"]) == set(TARGETS)
