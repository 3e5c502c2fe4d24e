"""``UUNetEngine``: batched inference of the public (de-identify) and private (restore) modules.

The product config runs in eval mode under ``torch.inference_mode``, so a crop's surrogate depends
only on the crop, the noise and the weights (not on the rest of the batch). The faithful config keeps
batch norm and dropout in training mode as the reference does (outputs random and batch-dependent)
without updating the stored running statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from shared.domain.errors import BadInputError, ConfigError
from shared.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    StateDict,
    load_checkpoint,
    split_state,
)
from shared.model.config import ATTRIBUTES, POLICIES, ModelConfig
from shared.model.unet import PARTS, MissingPartError, UNet, UUNetGenerator, count_params

log = logging.getLogger(__name__)

PART_CHOICES = ("public", "private", "both")
DEFAULT_BATCH = 64


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch.device, or ConfigError when CUDA is asked for and absent."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"unknown device {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available")
    return dev


def _parts(part: str) -> tuple[str, ...]:
    if part not in PART_CHOICES:
        raise ConfigError(f"part must be one of {PART_CHOICES}, got {part!r}")
    return PARTS if part == "both" else (part,)


def _load_half(net: UNet | None, state: StateDict, name: str) -> None:
    if net is None:
        return
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        log.debug("state dict mismatch for %s: %s", name, err)
        raise ConfigError(f"the {name} weights do not match the checkpoint's config") from err


class UUNetEngine:
    """De-identify crops (public module) and restore them (private module), in batches."""

    def __init__(self, generator: UUNetGenerator, device: str | torch.device = "cpu",
                 batch_size: int = DEFAULT_BATCH, meta: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.config = generator.config
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.meta = dict(meta or {})
        self._gen = generator.to(self.device)

    # ---- identity, as the pipeline and manifests need it
    @property
    def model_id(self) -> str:
        return self.config.model_id

    @property
    def model_version(self) -> str:
        return self.config.version

    @property
    def crop_size(self) -> int:
        return self.config.crop_size

    @property
    def keyed(self) -> bool:
        return self.config.keyed

    @property
    def generator(self) -> UUNetGenerator:
        """The underlying module (for evaluation code that needs both halves at once)."""
        return self._gen

    def has_part(self, part: str) -> bool:
        """Whether the public or private half is loaded."""
        return getattr(self._gen, f"{part}_net", None) is not None

    # ---- constructors
    @classmethod
    def load(cls, checkpoint: Path | None = None, device: str = "cpu",
             part: str = "both") -> UUNetEngine:  # fmt: skip
        """From a checkpoint file (None -> DEFAULT_CHECKPOINT); ConfigError if missing/corrupt."""
        path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
        ckpt = load_checkpoint(path)
        public_state, private_state = split_state(ckpt)
        parts = _parts(part)
        return cls.from_parts(
            ckpt.config,
            public_state if "public" in parts else None,
            # A donor checkpoint has no private half: an empty state means "not present".
            private_state if "private" in parts and private_state else None,
            device=device,
            meta=ckpt.meta,
        )

    @classmethod
    def from_parts(cls, config: ModelConfig, public_state: StateDict | None,
                   private_state: StateDict | None, device: str = "cpu",
                   meta: Mapping[str, Any] | None = None) -> UUNetEngine:  # fmt: skip
        """From separately stored halves (e.g. a decrypted private module); None leaves a half out."""
        parts = tuple(
            p for p, s in zip(PARTS, (public_state, private_state), strict=True) if s is not None
        )
        if not parts:
            raise ConfigError("no model half was given")
        gen = UUNetGenerator(config, parts=parts)
        _load_half(gen.public_net, public_state or {}, "public")
        _load_half(gen.private_net, private_state or {}, "private")
        return cls(gen, device=device, meta=meta)

    @classmethod
    def from_config(cls, config: ModelConfig, device: str = "cpu", seed: int = 0,
                    part: str = "both") -> UUNetEngine:  # fmt: skip
        """Randomly initialised (for tests; tiny widths allowed); the global RNG is left untouched."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = UUNetGenerator(config, parts=_parts(part))
        return cls(gen, device=device)

    # ---- the contract
    def deidentify(self, crops: Tensor, noise: Tensor,
                   attributes: Mapping[str, str] | None = None) -> Tensor:  # fmt: skip
        """[N,3,64,64] in [0,1] + noise [N,1,64,64] -> surrogates [N,3,64,64] in [0,1], input device."""
        self.check_attributes(attributes)
        if self._gen.public_net is None:
            raise MissingPartError(
                "this engine holds only the private module; it cannot de-identify"
            )
        return self._run(self._gen.public, crops, noise)

    @property
    def can_restore(self) -> bool:
        """Whether learned restoration is possible (a private module is loaded)."""
        return self.has_part("private")

    def refine(self, crops: Tensor, composites: Tensor, masks: Tensor) -> Tensor:
        """Donor config: crops, composites [N,3,64,64] and masks [N,1,64,64] -> refined composites."""
        if self._gen.public_net is None:
            raise MissingPartError("this engine holds no public module; it cannot de-identify")
        if composites.shape[:1] + composites.shape[2:] != masks.shape[:1] + masks.shape[2:]:
            raise BadInputError("composites and masks must have the same N, H and W")
        pair = torch.cat([composites, masks], dim=1)  # [N,4,S,S], checked by _run
        return self._run(lambda x, cm: self._gen.refine(x, cm[:, :3], cm[:, 3:]), crops, pair, 4)

    def restore(self, surrogates: Tensor, noise: Tensor) -> Tensor:
        """[N,3,64,64] surrogates + [N,1,64,64] noise -> reconstructions [N,3,64,64] in [0,1]."""
        if self._gen.private_net is None:
            raise MissingPartError("this engine holds only the public module; it cannot restore")
        return self._run(self._gen.private, surrogates, noise)

    def check_attributes(self, attributes: Mapping[str, str] | None) -> None:
        """BadInputError unless every requested keep/change matches what the checkpoint was trained for."""
        if not attributes:
            return
        policy = self.config.policy()
        for name, want in attributes.items():
            if name not in ATTRIBUTES:
                raise BadInputError(f"unknown attribute {name!r}; known: {', '.join(ATTRIBUTES)}")
            if want not in POLICIES:
                raise BadInputError(f"attribute {name!r} must be 'keep' or 'change', got {want!r}")
            if name not in policy:
                raise BadInputError(
                    f"model {self.model_id} was not trained to control {name!r}; "
                    "omit the request or use a checkpoint trained for it"
                )
            if policy[name] != want:
                raise BadInputError(
                    f"model {self.model_id} was trained to {policy[name]} {name!r}, not to {want} it"
                )

    # ---- internals
    @contextmanager
    def _mode(self) -> Iterator[None]:
        """Eval mode (product) or the reference's training mode, restored afterwards.

        Restoring matters when the engine wraps a generator that is still being trained.
        """
        saved = [(m, m.training, getattr(m, "momentum", None)) for m in self._gen.modules()]
        try:
            if not self.config.train_mode_inference:
                self._gen.eval()
            else:
                # Reference quirk: BN uses the batch's statistics and dropout stays on; momentum 0
                # keeps the stored running statistics unchanged meanwhile.
                self._gen.train()
                for m in self._gen.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.momentum = 0.0
            yield
        finally:
            for m, training, momentum in saved:
                m.training = training
                if isinstance(m, nn.BatchNorm2d):
                    m.momentum = momentum

    def _check(self, images: Tensor, noise: Tensor, channels: int = 1) -> None:
        size = self.crop_size
        if not isinstance(images, Tensor) or not isinstance(noise, Tensor):
            raise BadInputError("crops and noise must be torch tensors")
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise BadInputError(f"crops must be [N,3,{size},{size}], got {list(images.shape)}")
        want = (images.shape[0], channels, size, size)
        if tuple(noise.shape) != want:
            what = "noise" if channels == 1 else "composites + masks"
            raise BadInputError(f"{what} must be {list(want)}, got {list(noise.shape)}")
        if not images.is_floating_point() or not noise.is_floating_point():
            raise BadInputError("crops and noise must be floating point in [0,1]")

    def _run(self, fn: Callable[[Tensor, Tensor], Tensor], images: Tensor, noise: Tensor,
             channels: int = 1) -> Tensor:  # fmt: skip
        self._check(images, noise, channels)
        out_device = images.device
        if images.shape[0] == 0:
            return images.new_zeros(images.shape, dtype=torch.float32)
        outs = []
        with self._mode(), torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                x = images[start : start + self.batch_size].to(self.device, torch.float32)
                n = noise[start : start + self.batch_size].to(self.device, torch.float32)
                outs.append(fn(x, n).clamp_(0.0, 1.0).to(out_device))
        return torch.cat(outs)

    def param_counts(self) -> dict[str, int]:
        """Trainable parameters of each loaded half."""
        counts = {}
        for part in PARTS:
            net = getattr(self._gen, f"{part}_net")
            if net is not None:
                counts[part] = count_params(net)
        return counts
