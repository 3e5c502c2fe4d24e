"""Model configuration: one frozen dataclass that every checkpoint stores, so inference rebuilds from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from shared.domain.errors import ConfigError

# The six P-DESTRE soft attributes the reference trains a recogniser for (order = the S vector's order).
ATTRIBUTES: tuple[str, ...] = (
    "gender",
    "ethnicity",
    "hair_colour",
    "hairstyle",
    "beard",
    "moustache",
)
# Identity first, then the attributes: one pairwise recogniser per trait.
TRAITS: tuple[str, ...] = ("identity", *ATTRIBUTES)
POLICIES: tuple[str, ...] = ("keep", "change")
NORMS: tuple[str, ...] = ("batch", "instance")
SURROGATES: tuple[str, ...] = ("noise", "donor")

# The reference's channel plan for one U-Net at width 1.0 (encoder; the decoder mirrors it).
BASE_CHANNELS: tuple[int, ...] = (64, 128, 256, 512, 512)


if TYPE_CHECKING:

    class _FaithfulField:
        @overload
        def __get__(self, obj: None, owner: Any) -> Callable[[], ModelConfig]: ...
        @overload
        def __get__(self, obj: object, owner: Any) -> bool: ...
        def __get__(self, obj: object, owner: Any) -> Any: ...
        def __set__(self, obj: object, value: bool) -> None: ...


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and inference behaviour of one UU-Net (public + private U-Net)."""

    width: float = 1.0  # multiplier on the 64..512 channel plan
    crop_size: int = 64
    if TYPE_CHECKING:  # lets mypy see both `ModelConfig.faithful()` and `config.faithful: bool`
        faithful: _FaithfulField = _FaithfulField()
    else:
        faithful: bool = (
            True  # reproduce the reference exactly (4-channel public, 3-channel private)
        )
    keyed: bool = False  # the noise channel comes from a key and reaches BOTH modules
    train_mode_inference: bool = (
        True  # BN + dropout stay in training mode at inference (reference quirk)
    )
    norm: str = "batch"
    dropout: float = 0.5
    model_id: str = "uunet-faithful"
    version: str = "0.1.0"
    # Per-attribute "keep"/"change" the checkpoint was trained for (the S vector); empty = not trained
    # for attribute control, so any request about an attribute is refused.
    attribute_policy: tuple[tuple[str, str], ...] = ()
    # What the public module starts from: "noise" (the paper: crop + keyed noise channel -> A) or
    # "donor" (the product since issue 10: crop + aligned keyed donor composite + its mask -> a
    # bounded refinement of the composite; no private module, see shared/surrogate/).
    surrogate: str = "noise"
    refine_delta: float = 0.25  # donor: largest change the refiner may make to a composite pixel

    def __post_init__(self) -> None:
        if not 0.0 < self.width <= 4.0:
            raise ConfigError(f"model width must be in (0, 4], got {self.width}")
        if self.crop_size != 64:
            # Five stride-2 encoders plus a stride-2 bottleneck take 64 px exactly to 1x1.
            raise ConfigError(
                f"crop_size must be 64 (the U-Net goes 64 -> 1 -> 64), got {self.crop_size}"
            )
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.surrogate not in SURROGATES:
            raise ConfigError(f"surrogate must be one of {SURROGATES}, got {self.surrogate!r}")
        if self.surrogate == "donor" and self.faithful:
            raise ConfigError("the faithful (reference) model has no donor surrogate")
        for name, policy in self.attribute_policy:
            if name not in ATTRIBUTES or policy not in POLICIES:
                raise ConfigError(f"bad attribute policy entry {name!r}: {policy!r}")

    @classmethod
    def faithful_preset(cls) -> ModelConfig:
        """The reference's model: width 1, unkeyed private module, training-mode inference."""
        return cls()

    @classmethod
    def product(cls, width: float = 0.25) -> ModelConfig:
        """The product's model: keyed noise to both modules, eval-mode (deterministic) inference."""
        return cls(
            width=width,
            faithful=False,
            keyed=True,
            train_mode_inference=False,
            model_id=f"uunet-product-w{width:g}",
        )

    @classmethod
    def donor(cls, width: float = 0.125) -> ModelConfig:
        """The product's public module since issue 10: a refiner of keyed donor composites."""
        return cls(
            width=width,
            faithful=False,
            keyed=True,
            train_mode_inference=False,
            model_id=f"uunet-donor-w{width:g}",
            version="0.2.0",
            surrogate="donor",
        )

    @property
    def public_in_channels(self) -> int:
        """4 (crop + noise) for the paper's module; 7 (crop + composite + mask) for the donor one."""
        return 7 if self.surrogate == "donor" else 4

    @property
    def has_private(self) -> bool:
        """Whether this model has a learned private module (the donor config has none yet)."""
        return self.surrogate == "noise"

    @property
    def channels(self) -> tuple[int, ...]:
        """Encoder channels after the width multiplier (at least 1 each)."""
        return tuple(max(1, round(c * self.width)) for c in BASE_CHANNELS)

    @property
    def private_in_channels(self) -> int:
        """3 (A only) for the reference; 4 (A + keyed noise) when keyed."""
        return 4 if self.keyed else 3

    def policy(self) -> dict[str, str]:
        """The attribute policy as a dict (trait -> "keep"/"change")."""
        return dict(self.attribute_policy)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form stored in checkpoints."""
        out = dataclasses.asdict(self)
        out["attribute_policy"] = [list(p) for p in self.attribute_policy]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of to_dict; unknown keys are a ConfigError (a checkpoint from another format)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown model config keys: {sorted(unknown)}")
        kwargs = dict(data)
        if "attribute_policy" in kwargs:
            kwargs["attribute_policy"] = tuple(
                (str(n), str(p)) for n, p in kwargs["attribute_policy"]
            )
        try:
            return cls(**kwargs)
        except TypeError as err:
            raise ConfigError(f"bad model config: {err}") from err


class _FaithfulPreset:
    """``ModelConfig.faithful()`` is the preset; ``config.faithful`` (an instance) is the bool field.

    A non-data descriptor: frozen-dataclass ``__init__`` stores the bool in the instance dict, which
    wins over this on instances, while class access gets the preset function.
    """

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return ModelConfig.faithful_preset
        return obj.__dict__["faithful"]


# Attached after @dataclass so the field keeps its default True (the dataclass captured it).
ModelConfig.faithful = _FaithfulPreset()  # type: ignore[assignment]


def faithful() -> ModelConfig:
    """The reference preset (same as ModelConfig.faithful_preset())."""
    return ModelConfig.faithful_preset()


def product(width: float = 0.25) -> ModelConfig:
    """The product preset (same as ModelConfig.product(width))."""
    return ModelConfig.product(width)
