"""Restore a public clip: verify the signature first, then put faces back, learned or sealed.

``learned``: re-crop the surrogates at the manifest's boxes, run the private module with the keyed
noise of each track, paste back with the same feathered seam. ``sealed``: decrypt the original
regions with the authority's X25519 key and paste them back exactly. ``auto``: sealed when the clip
carries originals and this side holds the authority key, else learned. ``tracks`` restricts
restoration to chosen subjects; every other face stays a surrogate.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from shared.crypto.keys import PrivateSideKeys
from shared.crypto.seal import open_stream
from shared.domain.errors import BadInputError, ConfigError, LimitExceededError
from shared.pipeline.container import Embedded, read_verified, sealed_reader
from shared.pipeline.errors import guarded
from shared.pipeline.manifest import FaceRecord, Manifest
from shared.pipeline.sealed_regions import RegionRecord, iter_records, paste_record
from shared.pipeline.stages import CROP_MARGIN, NoiseBank, from_record, same_file, temp_output
from shared.pipeline.types import MODES, FaceModel, Progress, ReidOptions, ReidReport
from shared.surrogate.model import NO_LEARNED_RESTORATION
from shared.video.crops import crop_faces, paste_faces
from shared.video.decode import iter_frames, probe
from shared.video.encode import VideoWriter, even_size
from shared.video.types import EncodeOptions

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_mode(mode: str, manifest: Manifest, keys: PrivateSideKeys) -> str:
    """The mode actually used ("learned" or "sealed"), or a one-line reason why not."""
    if mode not in MODES:
        raise BadInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        return "sealed" if manifest.sealed and keys.authority_private is not None else "learned"
    if mode == "sealed":
        if not manifest.sealed:
            raise BadInputError("this clip carries no sealed originals; use --mode learned")
        if keys.authority_private is None:
            raise ConfigError("sealed restoration needs authority_x25519.pem in the key set")
    return mode


def select_tracks(manifest: Manifest, wanted: frozenset[int] | None) -> frozenset[int]:
    """The track ids to restore; BadInputError for an id the clip does not have."""
    present = frozenset(t.track_id for t in manifest.tracks)
    if wanted is None:
        return present
    unknown = sorted(wanted - present)
    if unknown:
        have = ", ".join(str(t) for t in sorted(present)) or "none"
        raise BadInputError(f"no track {unknown[0]} in this clip (tracks: {have})")
    return frozenset(wanted)


def _check_engine(engine: FaceModel | None, manifest: Manifest) -> FaceModel:
    if engine is None:
        raise ConfigError(
            "learned restoration is not available here: no private module is loaded "
            "(restore from the sealed originals instead)"
        )
    if not getattr(engine, "can_restore", True):  # a donor model: nothing to learn back from
        raise ConfigError(NO_LEARNED_RESTORATION.format(model=engine.model_id))
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
    """Sealed restoration: originals decrypted in frame order, pasted back exactly."""

    def __init__(self, records: Iterator[RegionRecord], tracks: frozenset[int]) -> None:
        self._records, self._tracks = records, tracks
        self._next: RegionRecord | None = next(records, None)  # opens (and checks) the seal now

    def apply(self, frames: np.ndarray, indices: np.ndarray) -> int:
        done = 0
        for pos, index in enumerate(indices.tolist()):
            while self._next is not None and self._next.frame <= index:
                rec = self._next
                if rec.frame == index and rec.track_id in self._tracks:
                    paste_record(frames[pos], rec)
                    done += 1
                self._next = next(self._records, None)
        return done


def _open_sealed(stack: ExitStack, emb: Embedded, keys: PrivateSideKeys) -> Iterator[RegionRecord]:
    assert keys.authority_private is not None
    fh = stack.enter_context(sealed_reader(emb))
    return iter_records(open_stream(fh, keys.authority_private))


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
    emb = read_verified(src, keys.verify_key, keys.key_id)  # before anything else
    manifest = emb.manifest
    mode = resolve_mode(options.mode, manifest, keys)
    tracks = select_tracks(manifest, options.tracks)
    model = _check_engine(engine, manifest) if mode == "learned" else None
    info = probe(src, options.limits)
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
    with ExitStack() as stack:
        tmp = stack.enter_context(temp_output(dst))
        learned = LearnedRestorer(model, keys, manifest) if model is not None else None
        sealed = _Sealed(_open_sealed(stack, emb, keys), tracks) if mode == "sealed" else None
        writer = stack.enter_context(
            VideoWriter(
                tmp,
                info,
                EncodeOptions(crf=options.crf, keep_audio=info.has_audio),
                audio_source=src,
            )
        )
        for batch in iter_frames(src, options.batch_frames, info, options.limits):
            if learned is not None:
                recs = [by_frame.get(int(i), []) for i in batch.indices]
                restored += learned.apply(batch.frames, recs)
            elif sealed is not None:
                restored += sealed.apply(batch.frames, batch.indices)
            writer.write(batch.frames)
            if progress is not None:
                progress(min(writer.frames_written / max(info.frames, 1), 0.99))
        writer.close()
        frames = writer.frames_written
    if progress is not None:
        progress(1.0)
    return ReidReport(
        frames=frames,
        faces_restored=restored,
        tracks=tuple(sorted(tracks)),
        mode_used=mode,
        clip_sha256=_sha256(src),
        seconds=time.perf_counter() - start,
    )
