"""The face model the pipeline and services load: a checkpoint, and for donor configs its donor bank.

``load_face_model`` reads a checkpoint; a ``noise`` config (the paper's module, the first release)
comes back as the ``UUNetEngine`` itself (a crop model), a ``donor`` config as a
``DonorFaceModel`` that owns the bank and uses the engine's public module as its refiner.
``painter_for`` gives the pipeline the painter of either kind.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from shared.domain.errors import BadInputError, ConfigError
from shared.model.inference import UUNetEngine
from shared.surrogate.donors import DonorBank, load_bank
from shared.surrogate.painters import CropPainter, DonorPainter, PainterOptions

log = logging.getLogger(__name__)

NO_LEARNED_RESTORATION = (
    "model {model} makes donor surrogates, which carry nothing of the original face in their "
    "pixels, so learned restoration cannot work with it; restore from the sealed originals "
    "(--mode sealed)"
)


class DonorFaceModel:
    """Keyed donor surrogates (the product's public module); the engine refines the composites."""

    can_restore = False

    def __init__(self, engine: UUNetEngine, bank: DonorBank, refine: bool = True,
                 options: PainterOptions | None = None) -> None:  # fmt: skip
        if engine.config.surrogate != "donor":
            raise ConfigError(f"model {engine.model_id} is not a donor model")
        self.engine, self.bank = engine, bank
        self.refine = refine
        self.options = options or PainterOptions()

    @property
    def model_id(self) -> str:
        return self.engine.model_id

    @property
    def model_version(self) -> str:
        return self.engine.model_version

    @property
    def crop_size(self) -> int:
        return self.engine.crop_size

    @property
    def meta(self) -> dict[str, Any]:
        return {**self.engine.meta, "donor_bank": self.bank.bank_id}

    def controlled_attributes(self) -> tuple[str, ...]:
        """Soft attributes this model can keep or change on request: none (donors decide)."""
        return ()

    def check_attributes(self, attributes: Mapping[str, str] | None) -> None:
        """Donor surrogates take their attributes from the donor: any request is refused."""
        if attributes:
            name = next(iter(attributes))
            raise BadInputError(
                f"model {self.model_id} does not control soft attributes (asked: {name!r}); "
                "omit --attributes"
            )

    def painter(self, secret: bytes, clip_id: str,
                attributes: Mapping[str, str] | None = None) -> DonorPainter:  # fmt: skip
        """A painter for one clip (per-track donors and landmark smoothing live in it)."""
        self.check_attributes(attributes)
        refiner = self.engine if self.refine and self.engine.has_part("public") else None
        return DonorPainter(self.bank, secret, clip_id, refiner, self.options)

    def restore(self, surrogates: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Never possible: see NO_LEARNED_RESTORATION."""
        raise ConfigError(NO_LEARNED_RESTORATION.format(model=self.model_id))


def painter_for(model: Any, secret: bytes, clip_id: str,
                attributes: Mapping[str, str] | None = None) -> Any:  # fmt: skip
    """The painter for one clip: the model's own, or the crop path for a crop model.

    A bare ``UUNetEngine`` of a donor config (loaded without ``load_face_model``) is given the
    shipped donor bank, so every way of loading a checkpoint de-identifies the same way.
    """
    if hasattr(model, "painter"):
        return model.painter(secret, clip_id, attributes)
    config = getattr(model, "config", None)
    if config is not None and config.surrogate == "donor":
        refine = bool(model.meta.get("refine", True))
        return DonorFaceModel(model, resolve_bank(None), refine).painter(
            secret, clip_id, attributes
        )
    model.check_attributes(attributes or None)
    return CropPainter(model, secret, clip_id, dict(attributes or {}))


def resolve_bank(donors: Path | None) -> DonorBank:
    """The donor bank: the shipped DCGAN bank (None), a bank file, or a folder of face images
    (built once into a cached bank file under $UUNET_DATA_CACHE/donors/)."""
    if donors is None or Path(donors).is_file():
        return load_bank(donors)
    from shared.surrogate.bank_cache import folder_bank

    return folder_bank(Path(donors))


def load_face_model(checkpoint: Path | None = None, device: str = "cpu", part: str = "public",
                    donors: Path | None = None, refine: bool = True) -> Any:  # fmt: skip
    """A checkpoint as the pipeline's face model (see the module docstring)."""
    engine = UUNetEngine.load(checkpoint, device=device, part=part)
    if engine.config.surrogate != "donor":
        return engine
    # A checkpoint says whether its refiner was trained ("refine": false ships the classical
    # composite alone, the fallback the product is never worse than).
    refine = refine and bool(engine.meta.get("refine", True))
    return DonorFaceModel(engine, resolve_bank(donors), refine=refine)
