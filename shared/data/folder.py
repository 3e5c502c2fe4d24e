"""Train on your own labelled face crops, named the way the reference (P-DESTRE crops) names them.

File name: ``<session>_<frame>_<identity>_<gender>_<ethnicity>_<hair_colour>_<hairstyle>_<beard>_
<moustache>[_<anything>].<jpg|jpeg|png|bmp>``, e.g. ``13-11-2019-2-4_1186_171_1_3_0_4_1_1_00.jpg``:
session "13-11-2019-2-4" (its first 10 characters are the day), frame 1186, identity 171, then the six
integer attribute codes in ``shared.model.config.ATTRIBUTES`` order. A negative identity or code means
unknown: such crops are left out of the identity pairs (as the reference does) or out of that trait.
Files may sit at any depth under the root. Crops are stretched to 64x64 (no aspect kept) in [0,1].
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from shared.data.augment import DegradeOptions, degrade
from shared.data.batches import LabelledBatch, PairedBatch
from shared.data.images import read_rgb, to_crop_tensor
from shared.domain.errors import BadInputError
from shared.model.config import ATTRIBUTES, TRAITS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MIN_PARTS = 3 + len(ATTRIBUTES)  # session, frame, identity, six attributes


@dataclass(frozen=True)
class CropLabel:
    """What a crop's file name says about it."""

    session: str
    frame: int
    identity: int
    attributes: tuple[int, ...]  # six codes, ATTRIBUTES order

    @property
    def day(self) -> str:
        return self.session[:10]

    def trait(self, name: str) -> int:
        """The label of one trait ("identity" or an attribute name)."""
        if name == "identity":
            return self.identity
        return self.attributes[ATTRIBUTES.index(name)]


def parse_name(name: str) -> CropLabel:
    """Parse a reference-style crop file name; BadInputError (one line) when it does not fit."""
    stem = Path(name).stem
    parts = stem.split("_")
    if len(parts) < MIN_PARTS or not parts[0]:
        raise BadInputError(
            f"crop name {name!r} does not follow session_frame_id_g_e_hc_hs_b_m[_x].ext "
            f"({len(parts)} fields, need {MIN_PARTS})"
        )
    try:
        numbers = [int(p) for p in parts[1:MIN_PARTS]]
    except ValueError as err:
        raise BadInputError(
            f"crop name {name!r}: frame, identity and attributes must be integers"
        ) from err
    return CropLabel(parts[0], numbers[0], numbers[1], tuple(numbers[2:]))


@dataclass(frozen=True)
class FolderOptions:
    """Reading options: skip bad names instead of failing, degrade crops like the synthetic source."""

    skip_malformed: bool = False
    augment: bool = False
    degrade: DegradeOptions = field(default_factory=DegradeOptions)
    cache: bool = True  # keep decoded 64x64 crops in memory (12 KiB each)


class FolderFaces:
    """Face source over a folder of labelled crops; same batch shapes as SyntheticFaces."""

    def __init__(self, root: Path, device: str | torch.device = "cpu", seed: int = 0,
                 options: FolderOptions | None = None) -> None:  # fmt: skip
        self.root = Path(root)
        self.device = torch.device(device)
        self.options = options or FolderOptions()
        self.rng = random.Random(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.items = scan(self.root, self.options.skip_malformed)
        self._cache: dict[Path, Tensor] = {}
        # identity -> session -> indices into self.items (identity >= 0 only)
        self.by_identity: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, (_, label) in enumerate(self.items):
            if label.identity >= 0:
                self.by_identity[label.identity][label.session].append(i)

    def __len__(self) -> int:
        return len(self.items)

    def _image(self, index: int) -> Tensor:
        path = self.items[index][0]
        crop = self._cache.get(path)
        if crop is None:
            crop = to_crop_tensor(read_rgb(path))
            if self.options.cache:
                self._cache[path] = crop
        return crop

    def _stack(self, indices: list[int]) -> Tensor:
        x = torch.stack([self._image(i) for i in indices]).to(self.device)
        return degrade(x, self.options.degrade, self.gen) if self.options.augment else x

    def _pick(self, pool: list[int], k: int) -> list[int]:
        # Without replacement when the pool is big enough (the reference's rule), else with.
        return self.rng.sample(pool, k) if len(pool) >= k else self.rng.choices(pool, k=k)

    def session_batch(self, subjects: int = 4, per_session: int = 8) -> PairedBatch:
        """S subjects seen in two sessions: K crops from one (x1) and K from the other (x2)."""
        eligible = [i for i, sessions in self.by_identity.items() if len(sessions) >= 2]
        if len(eligible) < subjects:
            raise BadInputError(
                f"{self.root}: {len(eligible)} identities appear in two or more sessions; "
                f"a batch needs {subjects}"
            )
        first: list[int] = []
        second: list[int] = []
        for identity in self.rng.sample(eligible, subjects):
            s1, s2 = self.rng.sample(sorted(self.by_identity[identity]), 2)
            first += self._pick(self.by_identity[identity][s1], per_session)
            second += self._pick(self.by_identity[identity][s2], per_session)
        ids = torch.tensor([self.items[i][1].identity for i in first], device=self.device)
        attrs = torch.tensor([self.items[i][1].attributes for i in first], device=self.device)
        return PairedBatch(self._stack(first), self._stack(second), ids, attrs)

    def trait_batch(
        self, classes: int = 4, per_class: int = 8, trait: str = "identity"
    ) -> LabelledBatch:
        """C classes of one trait x K crops each (unknown, i.e. negative, labels left out)."""
        if trait not in TRAITS:
            raise BadInputError(f"unknown trait {trait!r}; known: {', '.join(TRAITS)}")
        pools: dict[int, list[int]] = defaultdict(list)
        for i, (_, label) in enumerate(self.items):
            if label.trait(trait) >= 0:
                pools[label.trait(trait)].append(i)
        if len(pools) < classes:
            raise BadInputError(
                f"{self.root}: {len(pools)} known {trait} classes; a batch needs {classes}"
            )
        picked: list[int] = []
        labels: list[int] = []
        for value in self.rng.sample(sorted(pools), classes):
            picked += self._pick(pools[value], per_class)
            labels += [value] * per_class
        return LabelledBatch(self._stack(picked), torch.tensor(labels, device=self.device))


def scan(root: Path, skip_malformed: bool = False) -> list[tuple[Path, CropLabel]]:
    """Every image under root with its parsed label, in a stable (sorted) order."""
    if not root.is_dir():
        raise BadInputError(f"crop folder not found: {root}")
    items: list[tuple[Path, CropLabel]] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            items.append((path, parse_name(path.name)))
        except BadInputError:
            if not skip_malformed:
                raise
            log.warning("skipping a crop with a malformed name: %s", path.name)
    if not items:
        raise BadInputError(f"no labelled crops ({'/'.join(IMAGE_SUFFIXES)}) under {root}")
    log.info("found %d labelled crops under %s", len(items), root)
    return items
