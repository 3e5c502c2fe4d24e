"""What de-identification seals, by kind, into an encrypted temporary file beside the output.

Kinds: ``regions`` (the crop squares it painted, per track: face boxes exactly, the margins around
them at high quality; restore faces exactly and disclose one subject at a time), ``original`` (the
input file itself, byte for byte: hand the original evidence file back), ``both``, or ``none``. The
payload is encrypted to the authority's X25519 key as it is written (``shared.crypto.seal``), so
memory stays bounded by one chunk. Regions are sealed on a thread of their own
(:class:`BackgroundRegions`), beside the detector, the painter and the public encoder.
"""

from __future__ import annotations

import tempfile
import threading
from collections import deque
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
from shared.video.types import FaceBox, VideoInfo

__all__ = ["SEAL_KINDS", "BackgroundRegions", "RegionSink", "SealSink", "seal_kind"]
QUEUE_BYTES = 32 << 20  # regions waiting for the sealing thread; write() blocks beyond this
_Item = tuple[int, CropGeom, FaceBox, np.ndarray]


class RegionSink(Protocol):
    """Takes each crop square (and its face box) just before de-identification paints it, in
    frame order."""

    def write(self, frame: int, geom: CropGeom, box: FaceBox, region: np.ndarray) -> None: ...


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
        self.regions: BackgroundRegions | None = None
        if kind in ("regions", "both"):
            native = NativeFrames(src, info.width, info.height)
            stack.callback(native.close)
            self.regions = BackgroundRegions(RegionSealer(records, native))
            stack.callback(self.regions.abort)  # first on the way out: the thread uses the rest

    def finish(self) -> Path:
        """Flush the face segments, write the final chunk, close the file; returns its path."""
        if self.regions is not None:
            self.regions.close()
        self._sealer.close()
        self._file.close()
        return self.path


class BackgroundRegions:
    """A :class:`RegionSealer` on a thread of its own: ``write`` copies the region and returns, so
    the second decode, the colour check, the H.264 coding and the encryption overlap the painter and
    the public encoder. At most ``budget`` bytes of regions wait; ``write`` blocks beyond that."""

    def __init__(self, sealer: RegionSealer, budget: int = QUEUE_BYTES) -> None:
        self._sealer, self._budget = sealer, budget
        self._items: deque[_Item] = deque()
        self._queued = 0  # bytes of regions queued or being sealed
        self._done = False  # no more regions will come
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="uunet-seal", daemon=True)
        self._thread.start()

    def write(self, frame: int, geom: CropGeom, box: FaceBox, region: np.ndarray) -> None:
        """Queue one crop square (copied: the painter overwrites it next)."""
        item = (frame, geom, box, region.copy())
        with self._cond:
            while self._queued > self._budget and self._error is None:
                self._cond.wait()
            self._raise()
            self._items.append(item)
            self._queued += region.nbytes
            self._cond.notify_all()

    def close(self) -> None:
        """Seal every queued region, then flush the segments; raises what the thread raised."""
        self._stop(discard=False)
        self._raise()
        self._sealer.close()

    def abort(self) -> None:
        """Drop the queued regions and end the thread (on the way out of a failed run)."""
        self._stop(discard=True)

    def _stop(self, discard: bool) -> None:
        with self._cond:
            if discard:
                self._items.clear()
            self._done = True
            self._cond.notify_all()
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._done:
                    self._cond.wait()
                if not self._items:
                    return
                item = self._items.popleft()
            try:
                self._sealer.write(*item)
            except BaseException as err:  # handed to the pipeline's thread by write() or close()
                with self._cond:
                    self._error = err
                    self._items.clear()
                    self._cond.notify_all()
                return
            with self._cond:
                self._queued -= item[3].nbytes
                self._cond.notify_all()
