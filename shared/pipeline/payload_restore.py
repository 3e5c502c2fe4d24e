"""Learned restoration from the identity payload in the pixels (issue 11), in two passes over the clip.

1. Read every track's payload (``payload_read``) at the manifest's boxes, or at boxes found again
   when the clip lost its manifest (again at twice its size when nothing opens: a clip shrunk to
   half size); correct, authenticate and decrypt it.
2. Decode again, paint each restored track's face over its surrogate (``payload_paint``), encode.

A track whose payload cannot be read or opened keeps its surrogate and gets one line in the result;
the others are restored. When no track opens and some were refused by authentication, the key is
wrong: WrongKeyError, nothing is written. Without a manifest the clip's integrity cannot be
verified: the result says so, and so does the restored file's ``comment`` tag.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from shared.domain.errors import BadInputError, WrongKeyError
from shared.payload.carrier import PayloadFormat
from shared.pipeline.container import NO_MANIFEST
from shared.pipeline.manifest import FaceRecord, Manifest
from shared.pipeline.payload_paint import CodePainter
from shared.pipeline.payload_read import (
    MIN_FRAMES,
    Decoded,
    ReadOptions,
    ReadTrack,
    decode_track,
    read_redetected,
    read_with_manifest,
)
from shared.pipeline.stages import file_sha256, from_record, temp_output
from shared.pipeline.types import Progress, ReidOptions
from shared.video.decode import iter_frames, probe
from shared.video.encode import VideoWriter, even_size
from shared.video.types import EncodeOptions, FaceBox

UNVERIFIED = (
    "integrity NOT verified: the clip has no signed manifest (re-encoded or stripped), so nothing "
    "proves it is the public clip as published; faces were restored from the identity payload in "
    "its pixels"
)


# A clip without manifest may have been shrunk by whoever re-encoded it; the lattice lives at the
# public clip's size, so when nothing opens at the received size it is read again at twice that
# (half size is what platforms and the robustness case do; other factors are not tried).
UPSCALES = (2.0,)


@dataclass(frozen=True)
class PayloadJob:
    """One payload restoration: files, the key set's secret and id, the request, the manifest."""

    src: Path
    dst: Path
    secret: bytes
    key_id: str
    options: ReidOptions
    manifest: Manifest | None  # None: unverified, faces re-detected
    tracks: frozenset[int] | None = None  # track ids to restore (None: every one)
    progress: Progress | None = None
    fmt: PayloadFormat = field(default_factory=PayloadFormat)


@dataclass(frozen=True)
class PayloadResult:
    """What a payload restoration did."""

    faces: int  # face boxes painted
    frames: int
    output_sha256: str
    tracks: tuple[int, ...]  # the payload's track ids restored
    notes: tuple[str, ...]  # one line per track not restored, and the integrity warning
    clips: tuple[str, ...] = ()  # clip references (hex) the restored payloads name


def _faces(manifest: Manifest, wanted: frozenset[int]) -> dict[int, list[FaceRecord]]:
    return {
        f: [r for r in recs if r.track_id in wanted]
        for f, recs in manifest.faces_by_frame().items()
    }


def _read(job: PayloadJob, progress: Progress | None, scale: float = 1.0) -> dict[int, ReadTrack]:
    """Pass 1: every candidate track read (keys: manifest track ids, or re-detection ids)."""
    opts = ReadOptions(
        fmt=job.fmt, limits=job.options.limits, batch_frames=job.options.batch_frames
    )
    info = probe(job.src, job.options.limits)
    if job.manifest is None:
        found = read_redetected(job.src, info, opts, progress, scale)
        return {k: t for k, t in found.items() if t.frames >= MIN_FRAMES}
    m = job.manifest
    if (info.width, info.height) not in {(m.width, m.height), even_size(m.width, m.height)}:
        raise BadInputError("the clip's frame size differs from its manifest")
    wanted = m.payload_tracks & (job.tracks if job.tracks is not None else m.payload_tracks)
    return read_with_manifest(job.src, info, _faces(m, wanted), opts, progress)


def _where(track: ReadTrack) -> str:
    return f"frames {track.first}-{track.last}"


class _Outcomes:
    """Per-track decoding results, turned into codes for the painter and lines for the user."""

    def __init__(self, job: PayloadJob, read: dict[int, ReadTrack]) -> None:
        self.job, self.read = job, read
        self.codes: dict[int, Decoded] = {}
        self.notes: list[str] = []
        self.refused: list[str] = []
        m = job.manifest
        for key, track in sorted(read.items()):
            expect = (m.clip_id, key) if m is not None else None
            got = decode_track(track, job.secret, job.key_id, job.fmt, expect)
            if got.code is not None and self._wanted(got):
                self.codes[key] = got
            elif got.code is None:
                self._note(key, track, got)
        if m is not None:
            self._note_uncoded(m)

    def _wanted(self, got: Decoded) -> bool:
        assert got.code is not None
        return self.job.tracks is None or got.code.header.track_id in self.job.tracks

    def _note(self, key: int, track: ReadTrack, got: Decoded) -> None:
        who = f"track {key}" if self.job.manifest is not None else f"a face at {_where(track)}"
        verb = "refused" if got.refused else "not restored"
        self.notes.append(f"{who}: {verb}: {got.reason}")
        if got.refused:
            self.refused.append(got.reason)

    def _note_uncoded(self, m: Manifest) -> None:
        """Tracks asked for that carry no payload (covered by a blur, never confirmed as faces)."""
        asked = self.job.tracks if self.job.tracks is not None else {t.track_id for t in m.tracks}
        for tid in sorted(asked - m.payload_tracks):
            self.notes.append(
                f"track {tid}: not restored: it carries no identity payload (never confirmed as "
                "a face, it was covered by a blur)"
            )

    def check(self) -> None:
        """WrongKeyError when authentication refused every track read; BadInputError when none
        could be read at all."""
        if self.codes:
            return
        if self.refused:
            raise WrongKeyError(f"identity payload refused: {self.refused[0]}")
        if self.job.manifest is None:
            raise BadInputError(
                f"{NO_MANIFEST[:-1]}, and no face in it carries a readable identity payload)"
            )
        first = self.notes[0] if self.notes else "no track carries an identity payload"
        raise BadInputError(f"no face could be restored from the identity payload ({first})")

    def tracks(self) -> tuple[int, ...]:
        """The payload's own track ids restored."""
        return tuple(sorted({d.code.header.track_id for d in self.codes.values() if d.code}))

    def clips(self) -> tuple[str, ...]:
        """Clip references named by the restored payloads."""
        return tuple(sorted({d.code.header.clip_hex for d in self.codes.values() if d.code}))


def _boxes(by_frame: dict[int, list[FaceRecord]] | None, out: _Outcomes,
           index: int) -> list[tuple[int, FaceBox]]:  # fmt: skip
    """(track key, box) of the restored tracks in frame ``index``: the manifest's, or re-detected."""
    if by_frame is not None:
        return [
            (r.track_id, from_record(r)) for r in by_frame.get(index, ()) if r.track_id in out.codes
        ]
    return [(k, b) for k in out.codes if (b := out.read[k].boxes.get(index)) is not None]


def restore_from_payload(job: PayloadJob) -> PayloadResult:
    """Read, open and paint back every track's identity code (see the module docstring)."""
    report = job.progress
    step = (lambda f: report(0.5 * f)) if report is not None else None
    out = _Outcomes(job, _read(job, step))
    for scale in UPSCALES if job.manifest is None and not out.codes else ():
        again = _Outcomes(job, _read(job, step, scale))
        if again.codes:
            out = again
            break
    out.check()
    painter = CodePainter(job.fmt.code.margin)
    for key, got in out.codes.items():
        assert got.code is not None
        painter.set_code(key, got.code.face)
    notes = list(out.notes)
    if job.manifest is None:
        clips = ", ".join(out.clips())
        notes.insert(0, f"{UNVERIFIED} (key set {job.key_id}, clip {clips})")
    by_frame = job.manifest.faces_by_frame() if job.manifest is not None else None
    info = probe(job.src, job.options.limits)
    metadata = {"comment": f"uunet: {UNVERIFIED}"} if job.manifest is None else {}
    encode = EncodeOptions(crf=job.options.crf, lossless=job.options.lossless,
                           keep_audio=info.has_audio, metadata=metadata)  # fmt: skip
    faces = 0
    with ExitStack() as stack:
        tmp = stack.enter_context(temp_output(job.dst))
        writer = stack.enter_context(VideoWriter(tmp, info, encode, audio_source=job.src))
        for batch in iter_frames(job.src, job.options.batch_frames, info, job.options.limits):
            for pos, index in enumerate(batch.indices.tolist()):
                for key, box in _boxes(by_frame, out, index):
                    faces += painter.paint(batch.frames[pos], key, box)
            writer.write(batch.frames)
            if job.progress is not None:
                job.progress(0.5 + 0.5 * min(writer.frames_written / max(info.frames, 1), 0.99))
        writer.close()
        digest = file_sha256(tmp)
    return PayloadResult(faces, writer.frames_written, digest, out.tracks(), tuple(notes),
                         out.clips())  # fmt: skip
