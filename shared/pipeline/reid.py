"""Restore a public clip: verify the signature first, then put faces back, learned or sealed.

``learned``: from the identity payload in the pixels when the clip's tracks carry one
(``payload_restore``: read, correct, authenticate, decrypt, paint over the surrogate); for the
paper's crop model, re-crop the surrogates at the manifest's boxes and run the private module with
the keyed noise of each track. ``sealed``: decrypt the original regions with the authority's X25519
key and paste them back (face boxes exactly, the margins around them at high quality). ``auto``:
sealed when the clip carries sealed regions for this side's authority key, else learned.
``tracks`` restricts restoration to chosen subjects; every other face stays a surrogate.
``lossless`` writes the result without loss (sealed face boxes then equal the decoded original
frames); ``original`` writes back the sealed input file itself, checked against the SHA-256 in the
signed manifest. A clip that lost its manifest box (re-encoded by a third party) can only be
restored from its identity payload, and the report says its integrity is unverified.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from shared.crypto.keys import PrivateSideKeys
from shared.crypto.seal import open_stream
from shared.domain.errors import (
    BadInputError,
    ConfigError,
    LimitExceededError,
    TamperedError,
)
from shared.pipeline.container import Embedded, find_box, sealed_reader, verify_box
from shared.pipeline.errors import guarded
from shared.pipeline.manifest import FaceRecord, Manifest
from shared.pipeline.payload_restore import PayloadJob, PayloadResult, restore_from_payload
from shared.pipeline.plan import plan_for, plan_unverified
from shared.pipeline.region_reader import RegionReader, paste_record
from shared.pipeline.sealed_payload import copy_original, read_records
from shared.pipeline.stages import (
    CROP_MARGIN,
    NoiseBank,
    file_sha256,
    from_record,
    same_file,
    temp_output,
)
from shared.pipeline.types import FaceModel, Progress, ReidOptions, ReidPlan, ReidReport
from shared.video.crops import crop_faces, paste_faces
from shared.video.decode import iter_frames, probe
from shared.video.encode import VideoWriter, even_size
from shared.video.types import EncodeOptions

log = logging.getLogger(__name__)

NO_PAYLOAD = (
    "this clip carries no identity payload in its pixels (de-identified with --no-payload, or "
    "before payloads existed), and model {model} makes donor surrogates, which carry nothing of "
    "the original face; restore from the sealed originals (--mode sealed)"
)


def _check_engine(engine: FaceModel | None, manifest: Manifest) -> FaceModel:
    if engine is None:
        raise ConfigError(
            "learned restoration is not available here: no private module is loaded "
            "(restore from the sealed originals instead)"
        )
    if not getattr(engine, "can_restore", True):  # a donor model: nothing to learn back from
        raise ConfigError(NO_PAYLOAD.format(model=engine.model_id))
    if engine.model_id != manifest.model_id:
        raise ConfigError(
            f"clip was de-identified with model {manifest.model_id}; "
            f"the loaded checkpoint is {engine.model_id}"
        )
    if engine.model_version != manifest.model_version:
        log.warning("model version differs: clip %s, engine %s", manifest.model_version,
                    engine.model_version)  # fmt: skip
    return engine


class LearnedRestorer:
    """Learned restoration of one batch: private module on the re-cropped surrogates."""

    def __init__(self, engine: FaceModel, keys: PrivateSideKeys, manifest: Manifest) -> None:
        self.engine = engine
        self.noise = NoiseBank(keys.secret, manifest.clip_id, engine.crop_size)

    def apply(self, frames: np.ndarray, recs: list[list[FaceRecord]]) -> int:
        boxes = [[from_record(r) for r in fr] for fr in recs]
        if not any(boxes):
            return 0
        crops, geoms = crop_faces(frames, boxes, self.engine.crop_size, CROP_MARGIN)
        noise = self.noise.for_tracks([g.track_id for g in geoms])  # [N,1,64,64]
        restored = self.engine.restore(crops, noise)  # [N,3,64,64]
        paste_faces(frames, restored, geoms, CROP_MARGIN)
        return len(geoms)


class _Sealed:
    """Sealed restoration: originals decrypted in frame order, pasted back (boxes exactly)."""

    def __init__(self, reader: RegionReader) -> None:
        self.reader = reader

    def apply(self, frames: np.ndarray, indices: np.ndarray) -> int:
        done = 0
        for pos, index in enumerate(indices.tolist()):
            for rec in self.reader.for_frame(index):  # margins first, then the exact boxes
                paste_record(frames[pos], rec)
                done += rec.exact  # one exact region per face
        return done


def _open_sealed(stack: ExitStack, emb: Embedded, keys: PrivateSideKeys) -> Iterator[bytes]:
    """The decrypted payload, chunk by chunk (the header is checked on the first read)."""
    assert keys.authority_private is not None
    fh = stack.enter_context(sealed_reader(emb))
    return open_stream(fh, keys.authority_private)


def _restore_original(dst: Path, emb: Embedded, keys: PrivateSideKeys) -> str:
    """Write the sealed input file to ``dst``; its SHA-256 must equal the signed manifest's."""
    with ExitStack() as stack:
        tmp = stack.enter_context(temp_output(dst))
        _legacy, records = read_records(_open_sealed(stack, emb, keys))
        with open(tmp, "wb") as out:
            digest, _size = copy_original(records, out)
        if digest != emb.manifest.original_sha256:
            raise TamperedError("the sealed original's SHA-256 differs from the signed manifest's")
    return digest


@guarded("restoration")
def run_reid(
    src: Path,
    dst: Path,
    keys: PrivateSideKeys,
    engine: FaceModel | None,
    options: ReidOptions,
    progress: Progress | None = None,
) -> ReidReport:
    """See :func:`shared.pipeline.api.reidentify_clip`."""
    start = time.perf_counter()
    if same_file(src, dst):
        raise BadInputError("the output path is the input file; choose another -o")
    if src.is_file() and src.stat().st_size > options.limits.max_bytes:
        raise LimitExceededError(f"{src.name}: over the limit of {options.limits.max_bytes} bytes")
    found = find_box(src)
    if found is None:  # re-encoded: only the identity payload in the pixels is left
        plan_unverified(options)  # refuses sealed modes: they went with the manifest box
        job = PayloadJob(
            src, dst, keys.secret, keys.key_id, options, None, options.tracks, progress
        )
        return _payload_report(restore_from_payload(job), src, "", start, progress)
    emb = verify_box(found, keys.verify_key, keys.key_id)  # before anything else
    plan = plan_for(emb.manifest, keys, options)
    manifest_sha = hashlib.sha256(emb.manifest_bytes).hexdigest()
    if plan.payload:
        job = PayloadJob(src, dst, keys.secret, keys.key_id, options, emb.manifest, plan.tracks,
                         progress)  # fmt: skip
        return _payload_report(restore_from_payload(job), src, manifest_sha, start, progress)
    request = _Request(src, dst, emb, keys, options, progress)
    if plan.mode == "original":
        done = _Done(0, emb.manifest.frames, _restore_original(dst, emb, keys), exact=True)
    else:
        done = _restore_video(request, engine, plan)
    if progress is not None:
        progress(1.0)
    return ReidReport(
        frames=done.frames,
        faces_restored=done.faces,
        tracks=tuple(sorted(plan.tracks)),
        mode_used=plan.mode,
        clip_sha256=file_sha256(src),
        seconds=time.perf_counter() - start,
        manifest_sha256=manifest_sha,
        output_sha256=done.output_sha256,
        exact=done.exact,
    )


def _payload_report(result: PayloadResult, src: Path, manifest_sha: str, start: float,
                    progress: Progress | None) -> ReidReport:  # fmt: skip
    """The report of a restoration from the identity payload (unverified without a manifest)."""
    if progress is not None:
        progress(1.0)
    for note in result.notes:
        log.info("%s", note)
    return ReidReport(
        frames=result.frames,
        faces_restored=result.faces,
        tracks=result.tracks,
        mode_used="learned",
        clip_sha256=file_sha256(src),
        seconds=time.perf_counter() - start,
        manifest_sha256=manifest_sha,
        output_sha256=result.output_sha256,
        payload=True,
        integrity="verified" if manifest_sha else "unverified",
        notes=result.notes,
    )


@dataclass(frozen=True)
class _Request:
    """One verified restoration: files, the clip's box, keys, options."""

    src: Path
    dst: Path
    emb: Embedded
    keys: PrivateSideKeys
    options: ReidOptions
    progress: Progress | None


class _Done(NamedTuple):
    faces: int  # face boxes restored
    frames: int
    output_sha256: str
    exact: bool


def _restore_video(req: _Request, engine: FaceModel | None, plan: ReidPlan) -> _Done:
    """Decode, restore (the crop model, or sealed), encode."""
    manifest, options = req.emb.manifest, req.options
    mode, tracks = plan.mode, plan.tracks
    model = _check_engine(engine, manifest) if mode == "learned" else None
    info = probe(req.src, options.limits)
    # yuv420p codes odd sizes rounded up to even: the public clip may be 1 px wider/taller.
    if (info.width, info.height) not in {
        (manifest.width, manifest.height),
        even_size(manifest.width, manifest.height),
    }:
        raise BadInputError("the clip's frame size differs from its manifest")
    by_frame = {
        f: [r for r in recs if r.track_id in tracks]
        for f, recs in manifest.faces_by_frame().items()
    }
    restored = 0
    encode = EncodeOptions(crf=options.crf, lossless=options.lossless, keep_audio=info.has_audio)
    with ExitStack() as stack:
        tmp = stack.enter_context(temp_output(req.dst))
        learned = LearnedRestorer(model, req.keys, manifest) if model is not None else None
        sealed = None
        if mode == "sealed":
            sealed = _Sealed(RegionReader(_open_sealed(stack, req.emb, req.keys), tracks))
        writer = stack.enter_context(VideoWriter(tmp, info, encode, audio_source=req.src))
        for batch in iter_frames(req.src, options.batch_frames, info, options.limits):
            if learned is not None:
                recs = [by_frame.get(int(i), []) for i in batch.indices]
                restored += learned.apply(batch.frames, recs)
            elif sealed is not None:
                restored += sealed.apply(batch.frames, batch.indices)
            writer.write(batch.frames)
            if req.progress is not None:
                req.progress(min(writer.frames_written / max(info.frames, 1), 0.99))
        writer.close()
        out_sha = file_sha256(tmp)
    mismatches = sealed.reader.mismatches if sealed is not None else 0
    if mismatches:
        log.warning("%d restored regions differ from their sealed checksum", mismatches)
    exact = sealed is not None and options.lossless and mismatches == 0
    return _Done(restored, writer.frames_written, out_sha, exact)
