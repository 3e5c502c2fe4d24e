"""The UU-Net generator: two pix2pix U-Nets in a chain (public: x+noise -> A, private: A -> O).

Layer plan per UUNET-REFERENCE.md; at width 1 the faithful config has exactly 58,496,006 trainable
parameters (public 29,248,515 with 4 input channels, private 29,247,491 with 3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.domain.errors import ConfigError
from shared.model.config import ModelConfig

BOTTLENECK_BASE = 512
PARTS: tuple[str, ...] = ("public", "private")


class MissingPartError(ConfigError):
    """The engine or generator was built without the half that this call needs."""


def _norm(kind: str, channels: int) -> nn.Module:
    # Both carry an affine scale + shift, so the parameter count is the same for either choice.
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.BatchNorm2d(channels)


class _Down(nn.Module):
    """Conv 4x4 stride 2 (halves H and W), optional norm, LeakyReLU 0.2."""

    def __init__(self, c_in: int, c_out: int, norm: str | None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=True)
        self.norm = _norm(norm, c_out) if norm else nn.Identity()
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.conv(x)))


class _Up(nn.Module):
    """Transposed conv 4x4 stride 2 (doubles H and W), norm, optional dropout, concat skip, ReLU."""

    def __init__(self, c_in: int, c_out: int, norm: str, dropout: float) -> None:
        super().__init__()
        # padding=1, output_padding=0: out = (in - 1) * 2 - 2 + 4 = 2 * in, so 1 -> 2 -> ... -> 32.
        self.conv = nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=True)
        self.norm = _norm(norm, c_out)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        y = self.drop(self.norm(self.conv(x)))
        return self.act(torch.cat([y, skip], dim=1))


class UNet(nn.Module):
    """One pix2pix U-Net at 64x64: 5 encoders, a 1x1 bottleneck, 5 decoders, sigmoid output."""

    def __init__(self, in_channels: int, config: ModelConfig) -> None:
        super().__init__()
        ch = config.channels  # e.g. (64, 128, 256, 512, 512) at width 1
        bott = max(1, round(BOTTLENECK_BASE * config.width))
        self.encoders = nn.ModuleList(
            _Down(c_in, c_out, None if i == 0 else config.norm)
            for i, (c_in, c_out) in enumerate(zip((in_channels, *ch[:-1]), ch, strict=True))
        )
        # [N, ch4, 2, 2] -> [N, bott, 1, 1]; ReLU and no norm, as in the reference.
        self.bottleneck = nn.Sequential(
            nn.Conv2d(ch[-1], bott, kernel_size=4, stride=2, padding=1, bias=True), nn.ReLU()
        )
        dec_out = tuple(reversed(ch))  # 512, 512, 256, 128, 64
        dec_in = (
            bott,
            *(c_out + skip for c_out, skip in zip(dec_out[:-1], dec_out[:-1], strict=True)),
        )
        self.decoders = nn.ModuleList(
            _Up(c_in, c_out, config.norm, config.dropout if i == 0 else 0.0)
            for i, (c_in, c_out) in enumerate(zip(dec_in, dec_out, strict=True))
        )
        # [N, 2*ch0, 32, 32] -> [N, 3, 64, 64]
        self.head = nn.ConvTranspose2d(2 * ch[0], 3, kernel_size=4, stride=2, padding=1, bias=True)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        skips: list[Tensor] = []
        h = x
        for enc in self.encoders:
            h = enc(h)
            skips.append(h)  # 32, 16, 8, 4, 2 px
        h = self.bottleneck(h)  # 1 px
        for dec, skip in zip(self.decoders, reversed(skips), strict=True):
            h = dec(h, skip)
        return torch.sigmoid(self.head(h))


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) on conv weights, zero biases; norm scale N(1, 0.02), shift 0 (pix2pix)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class UUNetGenerator(nn.Module):
    """Public U-Net (x + noise -> surrogate A) chained with the private U-Net (A -> reconstruction O)."""

    def __init__(self, config: ModelConfig, parts: tuple[str, ...] = PARTS) -> None:
        super().__init__()
        self.config = config
        # A half may be left out so a public service never holds (or allocates) private weights.
        self.public_net = UNet(config.public_in_channels, config) if "public" in parts else None
        want_private = "private" in parts and config.has_private
        self.private_net = UNet(config.private_in_channels, config) if want_private else None

    def public(self, x: Tensor, noise: Tensor) -> Tensor:
        """[N,3,64,64] in [0,1] + noise [N,1,64,64] in [0,1) -> surrogate A [N,3,64,64] in [0,1]."""
        if self.public_net is None:
            raise MissingPartError("this generator holds no public module")
        if self.config.surrogate != "noise":
            raise MissingPartError("this model refines donor composites; it takes no noise")
        return self.public_net(torch.cat([x, noise], dim=1))

    def refine(self, x: Tensor, composite: Tensor, mask: Tensor) -> Tensor:
        """Donor config: crop x, composite [N,3,64,64] and mask [N,1,64,64] -> refined composite.

        The U-Net's sigmoid output is read as a residual in [-delta, delta], applied inside the
        mask only; at initialisation (output ~0.5) the refiner returns the composite unchanged.
        """
        if self.public_net is None:
            raise MissingPartError("this generator holds no public module")
        if self.config.surrogate != "donor":
            raise MissingPartError("this model takes noise, not donor composites")
        out = self.public_net(torch.cat([x, composite, mask], dim=1))
        residual = (out - 0.5) * (2.0 * self.config.refine_delta)
        return (composite + residual * mask).clamp(0.0, 1.0)

    def private(self, a: Tensor, noise: Tensor | None = None) -> Tensor:
        """Surrogate A [N,3,64,64] (+ noise when keyed) -> reconstruction O [N,3,64,64]."""
        if self.private_net is None:
            raise MissingPartError("this generator holds no private module")
        if not self.config.keyed:
            return self.private_net(a)  # the reference's private module never sees the noise
        if noise is None:
            raise ValueError("a keyed private module needs the noise")
        return self.private_net(torch.cat([a, noise], dim=1))

    def forward(self, x: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        a = self.public(x, noise)
        return a, self.private(a, noise)


def count_params(module: nn.Module) -> int:
    """Trainable parameters (batch-norm scale and shift included, running stats not)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
