"""Pipeline entry points the CLI and the services call (the pipeline/services contract).

All functions are synchronous and CPU/GPU bound: services call them in a worker thread or process.
They raise only ``UUNetError`` subclasses for bad input, never a raw av/numpy error; ``progress``
gets a fraction in 0..1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.crypto.keys import PrivateSideKeys, PublicSideKeys
from shared.pipeline.manifest import Manifest
from shared.video.types import Limits  # one Limits type for decode and the API

if TYPE_CHECKING:
    from torch import Tensor

Progress = Callable[[float], None]


class FaceModel(Protocol):
    """The model port the pipeline needs; ``shared.model.inference.UUNetEngine`` implements it."""

    @property
    def model_id(self) -> str: ...

    @property
    def model_version(self) -> str: ...

    @property
    def crop_size(self) -> int: ...

    def check_attributes(self, attributes: Mapping[str, str] | None) -> None: ...

    def deidentify(
        self, crops: Tensor, noise: Tensor, attributes: Mapping[str, str] | None = None
    ) -> Tensor: ...

    def restore(self, surrogates: Tensor, noise: Tensor) -> Tensor: ...


MODES = ("auto", "learned", "sealed")
__all__ = [
    "MODES",
    "ClipInfo",
    "DeidOptions",
    "DeidReport",
    "FaceModel",
    "Limits",
    "ReidKeys",
    "ReidOptions",
    "ReidPlan",
    "ReidReport",
    "check_reidentify",
    "deidentify_clip",
    "probe_clip",
    "reidentify_clip",
    "verify_clip",
]


@dataclass(frozen=True)
class DeidOptions:
    """How to de-identify one clip."""

    keep_audio: bool = False
    seal: str | None = (
        None  # none|regions|original|both; None: regions when an authority key is there
    )
    attributes: Mapping[str, str] = field(default_factory=dict)
    device: str = "cpu"
    limits: Limits = field(default_factory=Limits)
    clip_id: str | None = None  # None: a random id
    detect_every: int = 10  # detect every k-th frame, track between (bench_recall)
    detector: str = "yunet"  # yunet|centerface
    batch_frames: int = 8  # frames per model call (all faces of the batch in one call)
    manifest_json: Path | None = None  # also write the manifest here
    crf: int = 20  # x264 quality of the public stream (lower: better, larger)


@dataclass(frozen=True)
class ReidOptions:
    """How to restore one clip."""

    mode: str = "auto"  # auto|learned|sealed
    tracks: frozenset[int] | None = None  # None: every track
    device: str = "cpu"
    limits: Limits = field(default_factory=Limits)
    batch_frames: int = 8
    crf: int = 16  # x264 quality of the restored clip: evidence, so finer than the public one
    lossless: bool = False  # H.264 High 4:4:4 Predictive, qp 0, RGB: sealed faces come back exact
    original: bool = False  # hand back the sealed original input file instead of a video


@dataclass(frozen=True)
class DeidReport:
    """What ``deidentify_clip`` did."""

    frames: int  # frames written (= frames decoded)
    faces: int  # face boxes replaced, over all frames
    tracks: int  # distinct subjects
    fps: float  # the clip's frame rate (processing speed is frames / seconds)
    seconds: float  # wall time of the whole call
    sealed: bool  # the output carries sealed originals
    manifest_sha256: str  # SHA-256 of the canonical manifest bytes that were signed
    seal: str = "none"  # what was sealed: none|regions|original|both


@dataclass(frozen=True)
class ReidReport:
    """What ``reidentify_clip`` did; ``clip_sha256`` is the hash of the input file (for audit)."""

    frames: int
    faces_restored: int  # face boxes restored, over all frames
    tracks: tuple[int, ...]  # the track ids restored
    mode_used: str  # "learned", "sealed" or "original" (the sealed input file, byte for byte)
    clip_sha256: str  # SHA-256 of the whole input file
    seconds: float
    manifest_sha256: str = ""  # SHA-256 of the clip's signed manifest bytes
    output_sha256: str = ""  # SHA-256 of the file written
    exact: bool = False  # every restored face region is bit-exact in the output file


@dataclass(frozen=True)
class ClipInfo:
    """What a fast probe learns about a clip."""

    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    has_audio: bool
    codec: str
    size_bytes: int


def probe_clip(src: Path, limits: Limits) -> ClipInfo:
    """Fast validation: BadInputError if not a readable video, LimitExceededError if too big."""
    from shared.pipeline.errors import guarded
    from shared.pipeline.probe import probe_clip as _probe

    return guarded("probe")(_probe)(Path(src), limits)


def deidentify_clip(
    src: Path,
    dst: Path,
    keys: PublicSideKeys,
    engine: FaceModel,
    options: DeidOptions,
    progress: Progress | None = None,
) -> DeidReport:
    """Replace every face of ``src``, sign (and optionally seal), write the MP4 to ``dst``."""
    from shared.pipeline.deid import run_deid

    return run_deid(Path(src), Path(dst), keys, engine, options, progress)


def verify_clip(src: Path, verify_key: Ed25519PublicKey, key_id: str | None = None) -> Manifest:
    """Check the embedded signature; TamperedError on mismatch, BadInputError if no manifest.

    With ``key_id`` (the loaded key set's id) a clip made with another key set is a WrongKeyError.
    """
    from shared.pipeline.container import read_verified
    from shared.pipeline.errors import guarded

    return guarded("verification")(read_verified)(Path(src), verify_key, key_id).manifest


class ReidKeys(Protocol):
    """What checking a restoration request needs (``PrivateSideKeys`` has it; no secret used)."""

    @property
    def verify_key(self) -> Ed25519PublicKey: ...

    @property
    def key_id(self) -> str: ...

    @property
    def authority_key_id(self) -> str | None: ...


@dataclass(frozen=True)
class ReidPlan:
    """What a restoration request will do, once checked."""

    manifest: Manifest
    mode: str  # learned | sealed | original
    tracks: frozenset[int]


def check_reidentify(src: Path, keys: ReidKeys, options: ReidOptions) -> ReidPlan:
    """Everything ``reidentify_clip`` would refuse, refused now and cheaply (nothing is written).

    Verifies the signature and key set, then the mode, tracks, seal kind and authority key against
    the manifest: TamperedError, WrongKeyError, BadInputError or ConfigError with one line.
    """
    from shared.pipeline.container import read_verified
    from shared.pipeline.errors import guarded
    from shared.pipeline.reid import plan_restore

    def check() -> ReidPlan:
        manifest = read_verified(Path(src), keys.verify_key, keys.key_id).manifest
        return ReidPlan(manifest, *plan_restore(manifest, keys, options))

    return guarded("verification")(check)()


def reidentify_clip(
    src: Path,
    dst: Path,
    keys: PrivateSideKeys,
    engine: FaceModel | None,
    options: ReidOptions,
    progress: Progress | None = None,
) -> ReidReport:
    """Verify ``src`` first (TamperedError), then restore faces per ``options`` into ``dst``.

    ``engine`` may be None when only sealed restoration is wanted (no model is needed then).
    """
    from shared.pipeline.reid import run_reid

    return run_reid(Path(src), Path(dst), keys, engine, options, progress)
