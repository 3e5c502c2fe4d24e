"""Payload figures (issue 11) on real clips: each track's face sealed into the pixels, then read back
after the product's own encode and a third party's transcodes, with and without the manifest.

    .venv/bin/python bench/bench_payload.py [--clips wolfgang,single,carphone,vtest] [--json F]
        [--llr models/payload/llr.json] [--step 16 --segment 8 ...: the channel's options]

Per clip: embedding cost per face per frame (CPU time), face PSNR marked vs unmarked, public clip
size with / without the payload (same encode), judge match of the code itself. Per case (own =
the product's encode at ``--own-crf``; re23, re28 = a re-encode of the public clip; half = half
size, decoded back up; cut = re-encoded from a third of the way in) and per box source (manifest
boxes, or boxes re-detected on the received clip): raw bit error rate (single cell x frame
decisions), combined bit error rate (after soft combining, before Reed-Solomon), tracks restored
(read, corrected, authenticated), message bit error rate after correction, judge match of the
restored code, and wrong-key refusals. Needs ``make eval-data``; timing is noisy on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.domain.errors import TamperedError, WrongKeyError
from shared.evaluation.payload_media import (
    CASES,
    CLIPS,
    Tracks,
    detect_tracks,
    load_frames,
    receive,
    redetect,
)
from shared.evaluation.payload_score import message_errors, raw_ber
from shared.evaluation.transcode import encode_rgb
from shared.payload.carrier import (
    PayloadFormat,
    PayloadUnreadableError,
    TrackIdentity,
    read_codeword,
    track_codeword,
)
from shared.payload.code import CodeOptions, decode_face, encode_face, face_square
from shared.payload.embed import PayloadEmbedder
from shared.payload.extract import SoftBits, TrackReader
from shared.payload.lattice import CELL_SIZES, ChannelOptions
from shared.payload.llr_model import LlrModel

SECRET, WRONG_SECRET, KEY_ID = os.urandom(32), os.urandom(32), "0123456789abcdef"


def best_frame(boxes: dict[int, tuple[float, ...]]) -> int:
    """The frame where the track's face is largest (a stand-in for 'best')."""
    return max(boxes, key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))


def mark(frames: list[np.ndarray], tracks: Tracks, fmt: PayloadFormat, clip_id: str):  # type: ignore[no-untyped-def]
    """Embed every track; returns marked frames, codewords, code thumbnails, originals, ms/face."""
    embedder = PayloadEmbedder(fmt.channel)
    bits, thumbs, originals = {}, {}, {}
    for tid, boxes in tracks.items():
        face = face_square(frames[best_frame(boxes)], boxes[best_frame(boxes)], fmt.code.margin)
        bits[tid] = track_codeword(SECRET, TrackIdentity(KEY_ID, clip_id, tid), face, fmt)
        thumbs[tid] = decode_face(encode_face(face, fmt.code), fmt.code)
        originals[tid] = face
        embedder.set_codeword(tid, bits[tid])
    marked, spent, faces = [f.copy() for f in frames], 0.0, 0
    for k, frame in enumerate(marked):
        here = [(tid, boxes[k]) for tid, boxes in tracks.items() if k in boxes]
        t0 = time.process_time()
        embedder.mark(frame, k, here)
        spent, faces = spent + time.process_time() - t0, faces + len(here)
    return marked, bits, thumbs, originals, 1000 * spent / max(faces, 1)


def face_psnr(a: list[np.ndarray], b: list[np.ndarray], tracks: Tracks) -> float:
    err = []
    for tid_boxes in tracks.values():
        for k, (x0, y0, x1, y1) in tid_boxes.items():
            sl = (slice(max(0, int(y0)), int(y1)), slice(max(0, int(x0)), int(x1)))
            err.append(((a[k][sl].astype(float) - b[k][sl].astype(float)) ** 2).mean())
    return float(10 * np.log10(255**2 / max(np.mean(err), 1e-10)))


def matches(judge, thumb: np.ndarray, original: np.ndarray) -> bool:  # type: ignore[no-untyped-def]
    if judge is None:
        return False
    up = cv2.resize(thumb, (64, 64), interpolation=cv2.INTER_CUBIC)
    ref = cv2.resize(original, (64, 64), interpolation=cv2.INTER_AREA)
    return judge.distance(up, ref) < 0.6


def read_track(planes: list[np.ndarray], boxes: dict[int, tuple[float, ...]],
               fmt: PayloadFormat, model: LlrModel | None = None) -> SoftBits | None:  # fmt: skip
    reader = TrackReader(fmt.bits, fmt.channel, model)
    for k, box in sorted(boxes.items()):
        if 0 <= k < len(planes):
            reader.observe(planes[k], k, box)  # type: ignore[arg-type]
    return reader.read()


def match_track(found: dict[int, tuple[float, ...]], tracks: Tracks, start: int) -> int | None:
    """The original track a re-detected one follows (most shared frames with overlapping boxes)."""
    best, votes = None, 0
    for tid, boxes in tracks.items():
        n = sum(
            1
            for k, b in found.items()
            if (o := boxes.get(k + start)) is not None
            and min(b[2], o[2]) > max(b[0], o[0])
            and min(b[3], o[3]) > max(b[1], o[1])
        )
        if n > votes:
            best, votes = tid, n
    return best


def receive_tracks(ctx: dict, case: str, mode: str):  # type: ignore[no-untyped-def, type-arg]
    """The received clip of a case and its tracks as (original track id, boxes) pairs."""
    rx = receive(ctx["public"], case, len(ctx["frames"]))
    tracks: Tracks = ctx["tracks"]
    if mode == "manifest":
        shifted = (
            (t, {k - rx.start: b for k, b in v.items() if k >= rx.start}) for t, v in tracks.items()
        )
        return rx, list(shifted)
    return rx, [(match_track(b, tracks, rx.start), b) for b in redetect(rx).values()]


def score_track(ctx: dict, soft: SoftBits, tid: int) -> dict:  # type: ignore[type-arg]
    """Error rates, restoration, judge and wrong-key outcome of one read track."""
    truth, fmt = ctx["bits"][tid], ctx["fmt"]
    raw = raw_ber(soft, truth)  # single decisions weighted as the analytic reader would
    residual, combined = message_errors(soft, truth, fmt.ecc)
    try:
        got = read_codeword(soft, SECRET, KEY_ID, fmt)
        ok = got.header.track_id == tid
        match = ok and matches(ctx["judge"], got.face, ctx["originals"][tid])
    except (PayloadUnreadableError, TamperedError, WrongKeyError):
        ok = match = False
    refused = None
    if ok:  # the same bits under a wrong secret (the attacker even claims the right key id)
        try:
            read_codeword(soft, WRONG_SECRET, KEY_ID, fmt)
            refused = False
        except (TamperedError, WrongKeyError):
            refused = True
    return dict(raw=raw, combined=combined, residual=residual, ok=ok, match=match,
                refused=refused, score=soft.score)  # fmt: skip


def summary(rows: list[dict]) -> dict:  # type: ignore[type-arg]
    def mean(key: str) -> float | None:
        return float(np.mean([r[key] for r in rows])) if rows else None

    return {
        "tracks": len(rows),
        "raw_ber": mean("raw"),
        "combined_ber": mean("combined"),
        "post_ecc_ber": mean("residual"),
        "restored": sum(r["ok"] for r in rows),
        "restored_match": sum(r["match"] for r in rows),
        "wrong_key_refused": sum(bool(r["refused"]) for r in rows),
        "score": mean("score"),
    }


def run_case(ctx: dict, case: str, mode: str) -> dict[str, dict]:  # type: ignore[type-arg]
    """One case and box source, read with each decoder: {decoder: summary}."""
    rx, pairs = receive_tracks(ctx, case, mode)
    out = {}
    for name, model in ctx["decoders"].items():
        rows = []
        for tid, boxes in pairs:
            soft = read_track(rx.planes, boxes, ctx["fmt"], model)
            if tid is not None and soft is not None:
                rows.append(score_track(ctx, soft, tid))
        out[name] = summary(rows)
    return out


def run_clip(name: str, args: argparse.Namespace, fmt: PayloadFormat, judge) -> dict | None:  # type: ignore[no-untyped-def, type-arg]
    spec = CLIPS[name]
    path = spec.path()
    if path is None:
        print(f"{name}: not available (make eval-data); skipped")
        return None
    frames = load_frames(path, args.max_frames)
    if spec.static_box is not None:
        tracks: Tracks = {1: dict.fromkeys(range(len(frames)), spec.static_box)}
    else:
        tracks = detect_tracks(frames)
    clip_id = uuid.uuid4().hex
    marked, bits, thumbs, originals, ms = mark(frames, tracks, fmt, clip_id)
    public, plain = encode_rgb(marked, crf=args.own_crf), encode_rgb(frames, crf=args.own_crf)
    ctx = dict(frames=frames, tracks=tracks, public=public, bits=bits, originals=originals,
               fmt=fmt, judge=judge, decoders=args.decoders)  # fmt: skip
    out: dict = {  # type: ignore[type-arg]
        "frames": len(frames), "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "tracks": len(tracks), "embed_ms_per_face": ms,
        "face_psnr_db": face_psnr(marked, frames, tracks), "size_ratio": len(public) / len(plain),
        "code_match": sum(matches(judge, thumbs[t], originals[t]) for t in tracks) if judge else None,
        "cases": {},
    }  # fmt: skip
    print(f"{name}: {out['size']} {len(frames)} frames, {len(tracks)} tracks, embed "
          f"{ms:.2f} ms/face, face PSNR {out['face_psnr_db']:.1f} dB, size x{out['size_ratio']:.3f}, "
          f"code match {out['code_match']}/{len(tracks)}")  # fmt: skip
    for case in args.cases:
        for mode in args.modes:
            if mode == "detect" and spec.static_box is not None:
                continue
            for decoder, r in run_case(ctx, case, mode).items():
                out["cases"][f"{case}/{mode}/{decoder}"] = r
                print(f"  {case:5s} {mode:8s} {decoder:8s} tracks {r['tracks']} raw BER "
                      f"{r['raw_ber'] or 0:.4f} combined {r['combined_ber'] or 0:.4f} post-ECC "
                      f"{r['post_ecc_ber'] or 0:.5f} restored {r['restored']} (judge match "
                      f"{r['restored_match']}) wrong key refused {r['wrong_key_refused']}/"
                      f"{r['restored']} lattice {r['score'] or 0:.2f}", flush=True)  # fmt: skip
    return out


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", default="wolfgang,single,carphone,vtest")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--modes", default="manifest,detect")
    p.add_argument("--max-frames", type=int, default=480)
    p.add_argument("--own-crf", type=int, default=23, help="the product's own encode")
    p.add_argument("--budget", type=int, default=CodeOptions.budget, help="code bytes")
    p.add_argument("--parity", type=float, default=PayloadFormat.parity)
    defaults = ChannelOptions()
    p.add_argument(
        "--min-cell", type=int, default=defaults.cell_sizes[0], help="smallest cell (px)"
    )
    for field in ("segment", "step", "region", "cells_across", "blur", "min_span"):
        p.add_argument(f"--{field.replace('_', '-')}", type=type(getattr(defaults, field)),
                       default=getattr(defaults, field))  # fmt: skip
    p.add_argument("--llr", type=Path, help="also read with this learned soft decoder")
    p.add_argument("--no-judge", action="store_true", help="skip the dlib judge")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    args.clips, args.cases, args.modes = (
        v.split(",") for v in (args.clips, args.cases, args.modes)
    )
    args.decoders = {"analytic": None}
    if args.llr:
        args.decoders["learned"] = LlrModel.load(args.llr)
    return args


def main() -> None:
    args = parse()
    sizes = tuple(c for c in CELL_SIZES if c >= args.min_cell)
    channel = ChannelOptions(segment=args.segment, step=args.step, region=args.region,
                             cells_across=args.cells_across, blur=args.blur,
                             min_span=args.min_span, cell_sizes=sizes)  # fmt: skip
    fmt = PayloadFormat(CodeOptions(budget=args.budget), args.parity, channel)
    judge = None
    if not args.no_judge:
        from shared.evaluation.judge import DlibJudge

        judge = DlibJudge()
    decoder = f"analytic and learned ({args.llr})" if args.llr else "analytic"
    print(
        f"format: {fmt.message_bytes} B sealed, {fmt.bits} codeword bits, {channel}; {decoder} decoder"
    )
    results = {n: r for n in args.clips if (r := run_clip(n, args, fmt, judge)) is not None}
    if args.json:
        args.json.write_text(json.dumps({"format": repr(fmt), "clips": results}, indent=2))


if __name__ == "__main__":
    main()
