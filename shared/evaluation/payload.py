"""``uunet eval --sets payload``: the identity payload's issue-11 figures on real clips, through the
product's own API (what ``uunet deid`` and ``uunet reid --mode learned`` call).

Per clip (``make eval-data``), trimmed to ``frames`` at near-lossless quality (the "original"):
1. ``deidentify_clip`` without then with the payload (same secret and clip id: same donors): the
   public clip's size ratio, and the payload's own embedding ms per face (the deid report's).
2. Learned restoration from the product's public clip and from a third party's transcodes of it
   (CRF 23, CRF 28, half size, cut a third of the way in: no manifest, faces re-detected,
   unverified): payload tracks restored, and the dlib judge on every ``every``-th frame's payload
   faces (the manifest's boxes), restored vs original. When the restorer refuses a case, every
   face counts as not matched (nothing was restored).
3. Wrong key: every track of the public clip, read at the manifest's boxes, opened under a random
   wrong secret claiming the right key id: the share that authentication refuses.
4. Bits: a track's true codeword is the Reed-Solomon encode of the payload the right key opened
   (authenticated, so exact); after a real libx264 CRF 23 re-encode the tracks are read again: raw
   bit error rate of the single observations, and message bit error rate after correction.
5. The attacker holds the public and private modules' weights but no key: the learned restoration
   under a random wrong secret. The cipher refuses and nothing is written, so the attacker's best
   is the public clip, judged against the originals (were a restoration written, a face would
   count as matched when either it or the public face matches).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset
from shared.domain.errors import UUNetError
from shared.evaluation.judge import MATCH_THRESHOLD, DlibJudge
from shared.evaluation.payload_media import CLIPS, case_transcode, frames_of, trim
from shared.evaluation.payload_score import (
    CASE_NAMES,
    PAYLOAD_TARGETS,
    Box,
    CaseResult,
    ClipPayload,
    Judged,
    clip_summary,
    crop,
    map_box,
    message_errors,
    raw_ber,
    summarise_payload,
)
from shared.evaluation.transcode import transcode
from shared.payload import ecc
from shared.payload.carrier import PayloadFormat
from shared.pipeline.container import read_box
from shared.pipeline.manifest import FaceRecord, Manifest
from shared.pipeline.payload_read import ReadOptions, decode_track, read_with_manifest
from shared.pipeline.types import DeidOptions, ReidOptions
from shared.video.decode import probe

log = logging.getLogger(__name__)

PAYLOAD_CLIPS = ("wolfgang", "single", "carphone")


@dataclass(frozen=True)
class PayloadEvalOptions:
    """Which clips, how many frames of each, and which faces the judge sees."""

    frames: int = 150
    every: int = 5  # judge the payload faces of every n-th frame that has any
    clips: tuple[str, ...] = PAYLOAD_CLIPS


@dataclass(frozen=True)
class _Env:
    root: Path
    model: Any
    judge: DlibJudge
    public_keys: PublicSideKeys
    private_keys: PrivateSideKeys


@dataclass(frozen=True)
class _Sample:
    index: int  # public clip frame
    box: Box
    original: np.ndarray  # the judge's embedding of the original face


@dataclass(frozen=True)
class _Received:
    path: Path
    start: int  # public frame of the received first frame
    scale: float  # received size / public size


def available_clips(options: PayloadEvalOptions) -> dict[str, Path]:
    """The clips of ``options`` that the eval-data cache holds."""
    return {n: p for n in options.clips if (p := CLIPS[n].path()) is not None}


def evaluate_payload(model: Any, key: bytes, options: PayloadEvalOptions) -> dict[str, Any] | None:
    """Every figure on every cached clip (see the module docstring); None when none is cached."""
    clips = available_clips(options)
    if not clips:
        return None
    with tempfile.TemporaryDirectory(prefix="uunet-eval-payload-") as tmp:
        root = Path(tmp)
        init_keyset(root / "keys")
        env = _Env(root, model, DlibJudge(),
                   replace(PublicSideKeys.load(root / "keys"), secret=key),
                   replace(PrivateSideKeys.load(root / "keys"), secret=key))  # fmt: skip
        scores = []
        for name, src in clips.items():
            log.info("eval payload: %s (%d frames)", name, options.frames)
            scores.append(score_clip(name, src, env, options))
    return {
        "clips": {s.name: clip_summary(s) for s in scores},
        "all": summarise_payload(scores),
        "missing": sorted(set(options.clips) - set(clips)),
        "frames": options.frames,
        "judged_every": options.every,
        "targets": {k: {"op": op, "value": v} for k, (op, v) in PAYLOAD_TARGETS.items()},
    }


def score_clip(name: str, src: Path, env: _Env, options: PayloadEvalOptions) -> ClipPayload:
    """Every figure of one clip."""
    from shared.pipeline.api import deidentify_clip

    clip = env.root / f"{name}.mp4"
    trim(src, clip, options.frames)
    public = {}
    for payload in (False, True):
        public[payload] = env.root / f"{name}-public-{int(payload)}.mp4"
        rep = deidentify_clip(clip, public[payload], env.public_keys, env.model,
                              DeidOptions(seal="none", payload=payload, clip_id=f"eval-{name}"))  # fmt: skip
    manifest = read_box(public[True]).manifest
    faces = {f: [r for r in recs if r.track_id in manifest.payload_tracks]
             for f, recs in manifest.faces_by_frame().items()}  # fmt: skip
    out = ClipPayload(name, rep.frames, len(manifest.payload_tracks),
                      public[True].stat().st_size, public[False].stat().st_size,
                      rep.payload_ms_per_face, sum(len(v) for v in faces.values()))  # fmt: skip
    orig = frames_of(clip)
    samples = _samples(faces, options.every, orig, env.judge)
    received = {case: _receive(public[True], case, len(orig)) for case in CASE_NAMES}
    for case, rx in received.items():
        out.cases[case] = _restore(rx, env, samples)
        log.info("eval payload: %s %s: %s", name, case, out.cases[case])
    _wrong_key_and_bits(out, manifest, faces, (public[True], received["re23"].path), env)
    _attacker(out, public[True], env, samples)
    return out


def _samples(faces: dict[int, list[FaceRecord]], every: int, orig: np.ndarray,
             judge: DlibJudge) -> list[_Sample]:  # fmt: skip
    """The judged faces: those of every ``every``-th frame that has payload faces."""
    out = []
    for n, index in enumerate(sorted(f for f, recs in faces.items() if recs)):
        if n % every or index >= len(orig):
            continue
        for r in faces[index]:
            box = (float(r.x), float(r.y), float(r.x + r.w), float(r.y + r.h))
            face = crop(orig[index], box)
            if face is not None:
                out.append(_Sample(index, box, judge.embed(face)))
    return out


def _receive(public: Path, case: str, total: int) -> _Received:
    """The clip a restorer receives in ``case``, written next to the public clip."""
    how = case_transcode(case, total)
    if how is None:
        return _Received(public, 0, 1.0)
    dst = public.with_name(f"{public.stem}-{case}.mp4")
    dst.write_bytes(transcode(public.read_bytes(), how))
    return _Received(dst, how.start, how.scale)


def _judge(judged: Judged, judge: DlibJudge, samples: list[_Sample], clips: list[np.ndarray],
           rx: _Received) -> None:  # fmt: skip
    """Each sample that survives the cut counts as matched when the judge matches any of
    ``clips`` (frames of received clips) there with the original face."""
    for s in samples:
        where = map_box(s.box, rx.start, rx.scale, s.index)
        if where is None:
            continue
        index, box = where
        crops = [c for frames in clips if index < len(frames)
                 and (c := crop(frames[index], box)) is not None]  # fmt: skip
        if crops:
            judged.add(any(np.linalg.norm(judge.embed(c) - s.original) < MATCH_THRESHOLD
                           for c in crops))  # fmt: skip


def _restore(rx: _Received, env: _Env, samples: list[_Sample]) -> CaseResult:
    """``reid --mode learned`` on a received clip: tracks restored and the judged faces."""
    from shared.pipeline.api import reidentify_clip

    back = rx.path.with_name(f"{rx.path.stem}-restored.mp4")
    try:
        rep = reidentify_clip(rx.path, back, env.private_keys, None, ReidOptions(mode="learned"))
    except UUNetError as err:  # nothing restored: every face that survives the cut is missed
        result = CaseResult(error=str(err))
        kept = sum(map_box(s.box, rx.start, rx.scale, s.index) is not None for s in samples)
        result.judged = Judged(kept, 0)
        return result
    result = CaseResult(restored=len(rep.tracks))
    _judge(result.judged, env.judge, samples, [frames_of(back)], rx)
    return result


def _wrong_key_and_bits(out: ClipPayload, manifest: Manifest, faces: dict[int, list[FaceRecord]],
                        clips: tuple[Path, Path], env: _Env) -> None:  # fmt: skip
    """Wrong-key refusals on the public clip, then bit error rates after a CRF 23 re-encode."""
    fmt = PayloadFormat()
    opts = ReadOptions(fmt=fmt, keep_evidence=True)
    public, re23 = clips
    keys, wrong = env.private_keys, os.urandom(32)
    truths = {}
    for tid, track in read_with_manifest(public, probe(public), faces, opts).items():
        right = decode_track(track, keys.secret, keys.key_id, fmt, (manifest.clip_id, tid))
        if right.code is None or right.soft is None:
            continue
        out.opened += 1
        out.refused += decode_track(track, wrong, keys.key_id, fmt).refused
        message = ecc.decode(right.soft.llr, right.soft.hits, fmt.ecc)
        assert message is not None  # it was just opened
        truths[tid] = ecc.encode(message, fmt.ecc)
    tracks = read_with_manifest(re23, probe(re23), faces, opts)
    for tid, truth in truths.items():
        soft = tracks[tid].reader.read() if tid in tracks else None
        if soft is None:  # nothing observed: as good as coin flips
            out.raw_ber.append(0.5)
            out.post_ecc_ber.append(0.5)
            continue
        out.raw_ber.append(raw_ber(soft, truth))
        out.post_ecc_ber.append(message_errors(soft, truth, fmt.ecc)[0])


def _attacker(out: ClipPayload, public: Path, env: _Env, samples: list[_Sample]) -> None:
    """The attacker's best face: the learned restoration under a random wrong secret."""
    from shared.pipeline.api import reidentify_clip

    keys = replace(env.private_keys, secret=os.urandom(32))
    back = public.with_name("attacker.mp4")
    clips = [frames_of(public)]
    try:
        rep = reidentify_clip(public, back, keys, None, ReidOptions(mode="learned"))
    except UUNetError as err:
        out.attacker_output = f"refused, nothing written ({err}); judged: the public clip"
    else:
        out.attacker_output = f"NOT refused: {len(rep.tracks)} track(s) restored; judged: both"
        clips.append(frames_of(back))
    _judge(out.attacker, env.judge, samples, clips, _Received(public, 0, 1.0))
