"""De-identify a clip: decode -> detect/track -> the public module's painter -> identity payload
-> encode, then sign the manifest (and the optional sealed originals) into the output MP4. The
painter (see ``shared.surrogate``) aligns a keyed donor per track (product) or runs the crop model
(reference); the payload stage (``payload_stage``, on by default) marks each donor track's sealed
identity code into its pixels, so that a re-encoded copy can still be restored.

Streaming: frames flow in batches of ``options.batch_frames`` (FaceStage may regroup them to end on
a keyframe), so memory stays bounded by a few batches whatever the clip length; the sealed payload
(``shared.pipeline.seal_sink``) goes to an encrypted temporary file as it is produced.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import shared
from shared.crypto.keys import PublicSideKeys, signing_key_id
from shared.domain.errors import BadInputError
from shared.pipeline.container import append_box, read_box, write_sidecar
from shared.pipeline.errors import guarded
from shared.pipeline.manifest import FaceRecord, Manifest
from shared.pipeline.marked import PROBE_FRAMES, MarkProbe
from shared.pipeline.payload_stage import PayloadStage
from shared.pipeline.seal_sink import RegionSink, SealSink, seal_kind
from shared.pipeline.stages import (
    file_sha256,
    quantise,
    same_file,
    square_geoms,
    temp_output,
    to_record,
)
from shared.pipeline.types import DeidOptions, DeidReport, FaceModel, FacePainter, Progress
from shared.surrogate.model import painter_for
from shared.video.ahead import detect_ahead, face_stream
from shared.video.audio import AudioResult
from shared.video.decode import iter_frames, probe
from shared.video.encode import VideoWriter
from shared.video.faces import FaceStageOptions
from shared.video.types import EncodeOptions, FaceBox, VideoInfo

log = logging.getLogger(__name__)


@dataclass
class _Run:
    """Per-clip state: the painter (keyed surrogates per track), the sealed-region sink, records."""

    engine: FaceModel
    painter: FacePainter
    attributes: dict[str, str]
    regions: RegionSink | None
    clip_id: str
    audio: bool
    detector: str
    payload: PayloadStage | None = None
    records: list[FaceRecord] = field(default_factory=list)

    def process(self, frames: np.ndarray, indices: np.ndarray, boxes: list[list[FaceBox]]) -> None:
        """Replace every face of the batch in place (frames uint8 [B,H,W,3])."""
        h, w = frames.shape[1:3]
        kept = [[q for b in fb if (q := quantise(b, w, h)) is not None] for fb in boxes]
        if not any(kept):
            return
        if self.regions is not None:  # originals before they are overwritten
            flat = [box for fb in kept for box in fb]
            for g, box in zip(square_geoms(kept, w, h), flat, strict=True):
                region = frames[g.pos, g.cy0 : g.cy1, g.cx0 : g.cx1]
                self.regions.write(int(indices[g.pos]), g, box, region)
        if self.payload is not None:  # the originals of new tracks, before the painter
            self.payload.before(frames, kept)
        self.painter.paint(frames, indices, kept)
        if self.payload is not None:  # the mark rides on the surrogate
            self.payload.after(frames, indices, kept)
        for pos, fb in enumerate(kept):
            self.records += [to_record(int(indices[pos]), box) for box in fb]


def _manifest(info: VideoInfo, run: _Run, keys: PublicSideKeys, frames: int, src: Path,
              seal: str) -> Manifest:  # fmt: skip
    return Manifest(
        model_id=run.engine.model_id,
        model_version=run.engine.model_version,
        key_id=keys.key_id,
        clip_id=run.clip_id,
        frames=frames,
        fps=float(info.fps),
        rate=str(info.fps),
        width=info.width,
        height=info.height,
        faces=tuple(run.records),
        attributes=dict(run.attributes),
        seal=seal,
        authority_key_id=keys.authority_key_id if seal != "none" else None,
        audio=run.audio,
        detector=run.detector,
        original_sha256=file_sha256(src),
        original_bytes=src.stat().st_size,
        software=f"uunet/{shared.__version__}",
        signer_id=signing_key_id(keys.signing_key.public_key()),
        payload=run.payload.info() if run.payload is not None else None,
    )


def _transcode(src: Path, tmp: Path, info: VideoInfo, run: _Run, options: DeidOptions,
               progress: Progress | None) -> tuple[int, AudioResult]:  # fmt: skip
    """Decode -> faces -> model -> paste -> encode; returns the frames written and the audio's fate."""
    encode = EncodeOptions(crf=options.crf, keep_audio=options.keep_audio)
    with VideoWriter(tmp, info, encode, audio_source=src) as writer, ExitStack() as stack:
        batches = iter_frames(src, options.batch_frames, info, options.limits)
        ahead = detect_ahead(options.detect_ahead, info)
        stage_options = FaceStageOptions(every=max(1, options.detect_every))
        faces = face_stream(stack, options.detector, stage_options, batches, ahead)
        # A re-encoded public clip of this product? (No public clip has odd sizes.)
        odd = info.width % 2 or info.height % 2
        probe = None
        if not (options.allow_marked or odd):
            probe = stack.enter_context(closing(MarkProbe(src, (info.width, info.height))))
        for batch, boxes in faces:
            if probe is not None:
                probe.observe(batch.indices, boxes)
                if int(batch.indices[-1]) >= PROBE_FRAMES - 1:
                    _refuse_marked(src, probe)
                    probe.close()  # its decoder is not needed for the rest of the clip
                    probe = None
            run.process(batch.frames, batch.indices, boxes)
            writer.write(batch.frames)
            if progress is not None:
                progress(min(writer.frames_written / max(info.frames, 1), 0.99))
        if probe is not None:  # a clip shorter than the probe
            _refuse_marked(src, probe)
    return writer.frames_written, writer.audio


def _refuse_marked(src: Path, probe: MarkProbe) -> None:
    """BadInputError when the probe found ``src`` to be a public clip of this product already."""
    why = probe.why_marked()
    if why is not None:
        raise BadInputError(
            f"{src.name}: {why}; de-identifying it again would paint over what restores the "
            "people in it: send the original clip (uunet deid --allow-marked if this is wrong)"
        )


@guarded("de-identification")
def run_deid(
    src: Path,
    dst: Path,
    keys: PublicSideKeys,
    engine: FaceModel,
    options: DeidOptions,
    progress: Progress | None = None,
) -> DeidReport:
    """See :func:`shared.pipeline.api.deidentify_clip`."""
    start = time.perf_counter()
    if same_file(src, dst):
        raise BadInputError("the output path is the input file; choose another -o")
    info = probe(src, options.limits)
    attributes = {str(k): str(v) for k, v in options.attributes.items()}
    engine.check_attributes(attributes or None)
    seal = seal_kind(options.seal, keys.authority_public is not None)
    clip_id = options.clip_id or uuid.uuid4().hex
    with ExitStack() as stack:
        tmp = stack.enter_context(temp_output(dst, public=True))
        sink = None
        if seal != "none":
            assert keys.authority_public is not None
            sink = SealSink(stack, keys.authority_public, seal, src, info)
        painter = painter_for(engine, keys.secret, clip_id, attributes)
        run = _Run(engine, painter, attributes, sink.regions if sink else None, clip_id, False,
                   options.detector)  # fmt: skip
        if options.payload:
            run.payload = PayloadStage(keys.secret, keys.key_id, clip_id, painter)
        frames, audio = _transcode(src, tmp, info, run, options, progress)
        run.audio = audio.kept  # the manifest says what the output carries, not what was asked
        manifest = _manifest(info, run, keys, frames, src, seal)
        canonical = manifest.canonical_bytes()
        sealed_file = sink.finish() if sink else None
        sealed_bytes = sealed_file.stat().st_size if sealed_file else 0
        append_box(tmp, canonical, keys.signing_key, sealed_file)
        if options.manifest_json is not None:
            write_sidecar(options.manifest_json, read_box(tmp))
    if progress is not None:
        progress(1.0)
    log.info("de-identified %d frames, %d faces", manifest.frames, len(manifest.faces))
    return DeidReport(
        frames=manifest.frames,
        faces=len(manifest.faces),
        tracks=len(manifest.tracks),
        fps=manifest.fps,
        seconds=time.perf_counter() - start,
        sealed=seal != "none",
        manifest_sha256=hashlib.sha256(canonical).hexdigest(),
        seal=seal,
        blurred=int(getattr(getattr(painter, "stats", None), "kinds", {}).get("blur", 0)),
        sealed_bytes=sealed_bytes,
        audio=audio.summary(),
        payload_tracks=len(run.payload.stats.tracks) if run.payload is not None else 0,
        payload_ms_per_face=run.payload.stats.ms_per_face if run.payload is not None else 0.0,
        payload=run.payload is not None,
    )
