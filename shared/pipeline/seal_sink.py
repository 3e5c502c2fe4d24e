"""What de-identification seals, by kind, into an encrypted temporary file beside the output.

Kinds: ``regions`` (the face regions it overwrote, lossless, per track: restore faces exactly and
disclose one subject at a time), ``original`` (the input file itself, byte for byte: hand the
original evidence file back), ``both``, or ``none``. The payload is encrypted to the authority's
X25519 key as it is written (``shared.crypto.seal``), so memory stays bounded by one chunk.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from shared.crypto.seal import SealWriter
from shared.domain.errors import BadInputError, ConfigError
from shared.pipeline.manifest import SEAL_KINDS
from shared.pipeline.sealed_payload import RecordWriter, write_original
from shared.pipeline.sealed_regions import RegionSealer
from shared.video.crops import CropGeom
from shared.video.planes import NativeFrames
from shared.video.types import VideoInfo

__all__ = ["SEAL_KINDS", "RegionSink", "SealSink", "seal_kind"]


class RegionSink(Protocol):
    """Takes each original region just before de-identification overwrites it, in frame order."""

    def write(self, frame: int, geom: CropGeom, region: np.ndarray) -> None: ...


def seal_kind(requested: str | bool | None, can_seal: bool) -> str:
    """The kind to seal: ``requested``, or ``regions`` when None and an authority key is there."""
    if requested is None:
        return "regions" if can_seal else "none"
    if isinstance(requested, bool):  # the first release's --seal/--no-seal
        requested = "regions" if requested else "none"
    if requested not in SEAL_KINDS:
        raise BadInputError(f"seal must be one of {', '.join(SEAL_KINDS)}, got {requested!r}")
    if requested != "none" and not can_seal:
        raise ConfigError("cannot seal: the key set has no authority_x25519.pub.pem")
    return requested


class SealSink:
    """The sealed payload of one clip; ``regions`` is the sink de-identification writes faces to."""

    def __init__(
        self, stack: ExitStack, authority: X25519PublicKey, kind: str, src: Path, info: VideoInfo
    ) -> None:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="uunet-seal-")))
        self.path = workdir / "sealed.bin"
        self.kind = kind
        self._file = stack.enter_context(open(self.path, "wb"))  # noqa: SIM115 - closed by the stack
        self._sealer = SealWriter(authority, self._file)
        records = RecordWriter(self._sealer)
        if kind in ("original", "both"):
            write_original(records, src)
        self.regions: RegionSealer | None = None
        if kind in ("regions", "both"):
            native = NativeFrames(src, info.width, info.height)
            stack.callback(native.close)
            self.regions = RegionSealer(records, native)

    def finish(self) -> Path:
        """Flush the face segments, write the final chunk, close the file; returns its path."""
        if self.regions is not None:
            self.regions.close()
        self._sealer.close()
        self._file.close()
        return self.path
