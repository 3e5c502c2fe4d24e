"""The DCGAN face generator shipped in pip ``gan-face-generate`` (weights only; its package is not imported).

The package's own modules import torchvision and matplotlib, so this file rebuilds the same network
(nz=100, ngf=64, nc=3, PyTorch DCGAN tutorial layout, Tanh output, 64x64) and loads ``weights.tar``'s
``netG_state_dict`` into it. The state-dict keys (``main.0.weight`` ... ``main.12.weight``) match the
``nn.Sequential`` indices below, which is why the ReLUs stay in the sequence.
Licence: code MIT; the weights were trained on DigiFace-1M (non-commercial research only): see README.md.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch
from torch import Tensor, nn

from shared.domain.errors import ConfigError

log = logging.getLogger(__name__)

NZ, NGF, NC = 100, 64, 3
WEIGHTS_PACKAGE = "gan_face_generate"
WEIGHTS_FILE = "weights.tar"


class DCGANGenerator(nn.Module):
    """z [N,100,1,1] -> face [N,3,64,64] in [-1,1] (Tanh), layer for layer the tutorial's generator."""

    def __init__(self, nz: int = NZ, ngf: int = NGF, nc: int = NC) -> None:
        super().__init__()

        def up(c_in: int, c_out: int, stride: int, pad: int) -> list[nn.Module]:
            return [
                nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]

        self.main = nn.Sequential(
            *up(nz, ngf * 8, 1, 0),  # -> [N, 512, 4, 4]
            *up(ngf * 8, ngf * 4, 2, 1),  # -> 8x8
            *up(ngf * 4, ngf * 2, 2, 1),  # -> 16x16
            *up(ngf * 2, ngf, 2, 1),  # -> 32x32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # -> [N, 3, 64, 64]
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.main(z)


def weights_path() -> Path:
    """Where pip put ``gan_face_generate/weights.tar`` (found without importing the package)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the synthetic face source needs pip package gan-face-generate (install with --no-deps)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise ConfigError(f"gan-face-generate is installed but has no {WEIGHTS_FILE}")
    return path


def load_dcgan(device: str | torch.device = "cpu", path: Path | None = None) -> DCGANGenerator:
    """The pretrained generator in eval mode (BN running statistics), frozen, on ``device``."""
    path = path or weights_path()
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt["netG_state_dict"]
    except Exception as err:  # a damaged or foreign file: pickle, zip or key errors
        raise ConfigError(f"cannot read the DCGAN weights at {path}") from err
    net = DCGANGenerator()
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    log.debug("loaded DCGAN face generator from %s", path)
    return net.to(device)
