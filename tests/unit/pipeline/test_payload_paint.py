"""The restored face's code: the 32 px WebP thumbnail is enlarged and smoothed once, so its coding
blocks do not show as squares on a large face, and its landmarks follow it."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from shared.payload.code import CodeOptions, decode_face, encode_face, face_square
from shared.pipeline.payload_paint import THUMB_SCALE, CodePainter, PaintOptions
from shared.video.detect import YuNetDetector


def _thumbnail() -> np.ndarray:
    """A real face coded and decoded as the payload carries it (32 px WebP, 256 B)."""
    img = data.astronaut()
    box = YuNetDetector().detect(img)[0]
    square = face_square(img, (box.x0, box.y0, box.x1, box.y1), CodeOptions().margin)
    return decode_face(encode_face(square))


def _block_edges(img: np.ndarray, block: int) -> float:
    """Mean luma step across block boundaries over the mean step inside blocks (columns and rows)."""
    grey = img.astype(np.float64).mean(axis=2)
    steps = [np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0)).T]
    at = np.arange(steps[0].shape[1]) % block == block - 1  # step from a block's last column on
    return float(sum(s[:, at].mean() for s in steps) / sum(s[:, ~at].mean() for s in steps))


def test_the_code_is_enlarged_and_smoothed_and_its_landmarks_follow() -> None:
    thumb = _thumbnail()
    margin = CodeOptions().margin
    plain = CodePainter(margin, PaintOptions(deblock=0.0))
    smooth = CodePainter(margin)
    plain.set_code(1, thumb)
    smooth.set_code(1, thumb)
    (p_img, p_pts), (s_img, s_pts) = plain._codes[1], smooth._codes[1]
    n = thumb.shape[0]
    assert p_img.shape == (n, n, 3) and s_img.shape == (n * THUMB_SCALE, n * THUMB_SCALE, 3)
    assert np.allclose(s_pts, (p_pts + 0.5) * THUMB_SCALE - 0.5)
    # WebP codes 4x4 blocks: at 4x they are 16 px squares whose edges the smoothing softens.
    cubic = cv2.resize(thumb, (n * THUMB_SCALE,) * 2, interpolation=cv2.INTER_CUBIC)
    assert _block_edges(s_img, 4 * THUMB_SCALE) < _block_edges(cubic, 4 * THUMB_SCALE)
