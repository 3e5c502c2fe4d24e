"""Image file decoding (through PyAV, a core dependency, so no Pillow/OpenCV is needed) and crop tensors."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from shared.domain.errors import BadInputError

CROP = 64


def read_rgb(path: Path) -> np.ndarray:
    """An image file -> RGB uint8 [H,W,3]; BadInputError when missing or undecodable."""
    if not Path(path).is_file():
        raise BadInputError(f"image not found: {path}")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, StopIteration, ValueError) as err:
        raise BadInputError(f"cannot decode image {Path(path).name}") from err


def to_crop_tensor(rgb: np.ndarray, size: int = CROP) -> Tensor:
    """RGB uint8 [H,W,3] -> float32 [3,size,size] in [0,1], stretched (aspect not kept, as the reference)."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().unsqueeze(0) / 255
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return x.squeeze(0).clamp_(0, 1)
