"""The pipeline/services contract: options, reports and the model port (no implementation here).

``shared.pipeline.api`` re-exports all of it with the entry points; the stage modules (deid, reid,
probe) import from here, so nothing in the package imports ``api`` back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from shared.video.types import FaceBox, Limits  # one Limits type for decode and the API

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from torch import Tensor

    from shared.pipeline.manifest import Manifest

Progress = Callable[[float], None]


class FacePainter(Protocol):
    """Replaces the faces of one clip, batch by batch (per-track state lives in the painter)."""

    def paint(self, frames: np.ndarray, indices: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        """Replace the faces ``boxes`` of ``frames`` (uint8 [B,H,W,3], clip frame ``indices``)."""
        ...


class FaceModel(Protocol):
    """The model port the pipeline needs.

    Two kinds implement it: a crop model (``shared.model.inference.UUNetEngine`` with a noise
    config: ``deidentify`` on 64x64 crops) and a painting model (``shared.surrogate.model.
    DonorFaceModel``: ``painter`` per clip). ``shared.surrogate.model.painter_for`` picks the path.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def model_version(self) -> str: ...

    @property
    def crop_size(self) -> int: ...

    def check_attributes(self, attributes: Mapping[str, str] | None) -> None: ...

    def restore(self, surrogates: Tensor, noise: Tensor) -> Tensor: ...


MODES = ("auto", "learned", "sealed")


@dataclass(frozen=True)
class DeidOptions:
    """How to de-identify one clip."""

    keep_audio: bool = False
    # none|regions|original|both; None: regions if an authority key is there (True/False: the
    # first release's on/off, read as regions/none)
    seal: str | bool | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    device: str = "cpu"
    limits: Limits = field(default_factory=Limits)
    clip_id: str | None = None  # None: a random id
    detect_every: int = 10  # detect every k-th frame, track between (bench_recall)
    detector: str = "yunet"  # yunet|centerface
    batch_frames: int = 8  # frames per model call (all faces of the batch in one call)
    manifest_json: Path | None = None  # also write the manifest here
    crf: int = 20  # x264 quality of the public stream (lower: better, larger)
    payload: bool = True  # mark each donor track's sealed identity code into its pixels
    allow_marked: bool = False  # de-identify a clip that is already a public clip (marked.py)
    # detection in a child process, a frame batch or two ahead of the painter (None: on two or
    # more CPUs, for clips of AHEAD_MIN_FRAMES frames and more: shared.video.ahead)
    detect_ahead: bool | None = None


@dataclass(frozen=True)
class ReidOptions:
    """How to restore one clip."""

    mode: str = "auto"  # auto|learned|sealed
    tracks: frozenset[int] | None = None  # None: every track
    device: str = "cpu"
    limits: Limits = field(default_factory=Limits)
    batch_frames: int = 8
    crf: int = 16  # x264 quality of the restored clip: evidence, so finer than the public one
    lossless: bool = False  # H.264 High 4:4:4 Predictive, qp 0, RGB: sealed face boxes exact
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
    blurred: int = 0  # of ``faces``: covered by a soft blur (not confirmed as a face) not a donor
    sealed_bytes: int = 0  # size of the sealed originals inside the output (0: not sealed)
    audio: str = ""  # what became of requested audio, for the user ("" when none was asked)
    seal: str = "none"  # what was sealed: none|regions|original|both
    payload: bool = False  # identity codes were marked into the pixels
    payload_tracks: int = 0  # tracks that carry one
    payload_ms_per_face: float = 0.0  # added CPU time of the payload per marked face


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
    exact: bool = False  # every restored face box is bit-exact in the output file (margins: lossy)
    payload: bool = False  # learned from the identity payload in the pixels
    integrity: str = "verified"  # "unverified": the clip had no signed manifest (see notes)
    notes: tuple[str, ...] = ()  # one line per track not restored, and any integrity warning


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

    manifest: Manifest | None  # None: the clip lost its manifest (re-encoded): unverified
    mode: str  # learned | sealed | original
    tracks: frozenset[int]  # empty when unverified (the payloads name their tracks)
    payload: bool = False  # learned restoration from the identity payload in the pixels

    @property
    def verified(self) -> bool:
        """Whether the clip's signed manifest was found and verified."""
        return self.manifest is not None


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
