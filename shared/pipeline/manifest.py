"""The manifest of a de-identified clip: what was done, to which boxes, with which model and key.

Boxes are stored compactly as runs per track: ``{"track": 3, "start": 10, "boxes": [[x, y, w, h]]}``
covers frames 10, 11, … of track 3 (a gap in a track starts a new run). Box coordinates are integer
pixels in the frame, exactly those the pipeline cropped and pasted, so restoration re-crops the same
regions. ``canonical_bytes`` is the byte string that gets signed (sorted keys, no whitespace).

Format 2 adds what a chain of custody needs: the seal kind (``none``, ``regions``, ``original`` or
``both``), the SHA-256 and size of the original input file, the software that made the clip and
the id of the signing key. Format 3 adds ``payload``: which tracks carry an encrypted identity code
in their pixels (``shared.payload``), or null. Formats 1 and 2 still parse (no payload).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import BadInputError

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
SEAL_KINDS = ("none", "regions", "original", "both")


@dataclass(frozen=True)
class FaceRecord:
    """One de-identified face: frame index, track id and integer box (x, y, w, h) in pixels."""

    frame: int
    track_id: int
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class TrackRecord:
    """Summary of one track: first and last frame and how many faces it holds."""

    track_id: int
    first_frame: int
    last_frame: int
    faces: int


@dataclass(frozen=True)
class PayloadInfo:
    """The identity payload in the pixels: its format version, codeword bits, and carrier tracks."""

    version: int
    bits: int
    tracks: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"version": self.version, "bits": self.bits, "tracks": list(self.tracks)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PayloadInfo | None:
        """Inverse of :meth:`to_dict` (None stays None)."""
        if data is None:
            return None
        tracks = tuple(sorted(int(t) for t in data["tracks"]))
        return cls(int(data["version"]), int(data["bits"]), tracks)


@dataclass(frozen=True)
class Manifest:
    """Everything a verifier or a restorer needs to know about a public clip (see module doc)."""

    model_id: str
    model_version: str
    key_id: str
    clip_id: str
    frames: int
    fps: float
    rate: str  # exact frame rate as a fraction, e.g. "30000/1001"
    width: int
    height: int
    faces: tuple[FaceRecord, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    seal: str = "none"  # none|regions|original|both (shared.pipeline.seal_sink)
    authority_key_id: str | None = None
    audio: bool = False
    detector: str = ""
    created_at: float = field(default_factory=time.time)
    original_sha256: str = ""  # of the input file, byte for byte ("" in format 1)
    original_bytes: int = 0
    software: str = ""  # e.g. "uunet/0.1.0"
    signer_id: str = ""  # shared.crypto.keys.signing_key_id of the key that signed the clip
    payload: PayloadInfo | None = None  # identity codes in the pixels (None: none)
    format_version: int = FORMAT_VERSION

    @property
    def sealed(self) -> bool:
        """Whether the clip carries a sealed payload at all."""
        return self.seal != "none"

    @property
    def seals_regions(self) -> bool:
        """Whether the face regions are sealed (exact restore, per-track disclosure)."""
        return self.seal in ("regions", "both")

    @property
    def seals_original(self) -> bool:
        """Whether the original input file is sealed (returned byte for byte)."""
        return self.seal in ("original", "both")

    @property
    def payload_tracks(self) -> frozenset[int]:
        """The tracks whose pixels carry an identity code."""
        return frozenset(self.payload.tracks) if self.payload is not None else frozenset()

    @property
    def tracks(self) -> tuple[TrackRecord, ...]:
        """Per-track summaries, ordered by track id."""
        return summarise_tracks(self.faces)

    def faces_by_frame(self) -> dict[int, list[FaceRecord]]:
        """Faces grouped by frame index."""
        out: dict[int, list[FaceRecord]] = {}
        for rec in self.faces:
            out.setdefault(rec.frame, []).append(rec)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the documented on-disk form)."""
        return {
            "format_version": self.format_version,
            "model": {"id": self.model_id, "version": self.model_version},
            "key_id": self.key_id,
            "clip_id": self.clip_id,
            "video": {
                "frames": self.frames,
                "fps": self.fps,
                "rate": self.rate,
                "width": self.width,
                "height": self.height,
                "audio": self.audio,
            },
            "detector": self.detector,
            "attributes": dict(sorted(self.attributes.items())),
            "sealed": self.sealed,
            "seal": self.seal,
            "authority_key_id": self.authority_key_id,
            "created_at": self.created_at,
            "original": {"sha256": self.original_sha256, "bytes": self.original_bytes},
            "software": self.software,
            "signer_id": self.signer_id,
            "payload": self.payload.to_dict() if self.payload is not None else None,
            "tracks": [
                {"id": t.track_id, "first": t.first_frame, "last": t.last_frame, "faces": t.faces}
                for t in self.tracks
            ],
            "runs": list(encode_runs(self.faces)),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Human-readable JSON (for ``--manifest-json``)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    def canonical_bytes(self) -> bytes:
        """The exact bytes that are signed: sorted keys, compact, ASCII."""
        return json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Inverse of :meth:`to_dict`; BadInputError on anything malformed."""
        try:
            version = int(data["format_version"])
            if version not in READABLE_VERSIONS:
                raise BadInputError(f"unsupported manifest version {data['format_version']}")
            video = data["video"]
            original = dict(data.get("original") or {})
            seal = str(data["seal"]) if version >= 2 else ("regions" if data["sealed"] else "none")
            if seal not in SEAL_KINDS:
                raise BadInputError(f"malformed manifest (unknown seal kind {seal[:20]!r})")
            return cls(
                model_id=str(data["model"]["id"]),
                model_version=str(data["model"]["version"]),
                key_id=str(data["key_id"]),
                clip_id=str(data["clip_id"]),
                frames=int(video["frames"]),
                fps=float(video["fps"]),
                rate=str(video["rate"]),
                width=int(video["width"]),
                height=int(video["height"]),
                audio=bool(video["audio"]),
                detector=str(data.get("detector", "")),
                faces=tuple(decode_runs(data["runs"])),
                attributes={str(k): str(v) for k, v in dict(data["attributes"]).items()},
                seal=seal,
                authority_key_id=data.get("authority_key_id"),
                created_at=float(data["created_at"]),
                original_sha256=str(original.get("sha256", "")),
                original_bytes=int(original.get("bytes", 0)),
                software=str(data.get("software", "")),
                signer_id=str(data.get("signer_id", "")),
                payload=PayloadInfo.from_dict(data.get("payload")) if version >= 3 else None,
                format_version=version,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise BadInputError(f"malformed manifest ({type(err).__name__}: {err})") from err

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse the JSON form; BadInputError when it is not a manifest."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as err:
            raise BadInputError("malformed manifest (not JSON)") from err
        if not isinstance(data, dict):
            raise BadInputError("malformed manifest (not an object)")
        return cls.from_dict(data)


def summarise_tracks(faces: Iterable[FaceRecord]) -> tuple[TrackRecord, ...]:
    """Per-track first/last frame and face count."""
    spans: dict[int, list[int]] = {}
    for rec in faces:
        span = spans.setdefault(rec.track_id, [rec.frame, rec.frame, 0])
        span[0] = min(span[0], rec.frame)
        span[1] = max(span[1], rec.frame)
        span[2] += 1
    return tuple(TrackRecord(tid, s[0], s[1], s[2]) for tid, s in sorted(spans.items()))


def encode_runs(faces: Iterable[FaceRecord]) -> Iterator[dict[str, Any]]:
    """Group faces into per-track runs of consecutive frames (see module doc)."""
    by_track: dict[int, list[FaceRecord]] = {}
    for rec in faces:
        by_track.setdefault(rec.track_id, []).append(rec)
    for tid in sorted(by_track):
        run: dict[str, Any] | None = None
        for rec in sorted(by_track[tid], key=lambda r: r.frame):
            if run is None or rec.frame != run["start"] + len(run["boxes"]):
                if run is not None:
                    yield run
                run = {"track": tid, "start": rec.frame, "boxes": []}
            run["boxes"].append([rec.x, rec.y, rec.w, rec.h])
        if run is not None:
            yield run


def decode_runs(runs: Iterable[Mapping[str, Any]]) -> Iterator[FaceRecord]:
    """Inverse of :func:`encode_runs`, in frame order within each track."""
    for run in runs:
        tid, start = int(run["track"]), int(run["start"])
        for offset, box in enumerate(run["boxes"]):
            x, y, w, h = (int(v) for v in box)
            yield FaceRecord(start + offset, tid, x, y, w, h)
