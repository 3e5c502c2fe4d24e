"""``uunet reid IN -o OUT --keys DIR``: verify a public clip, then restore its faces."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shared.domain.errors import BadInputError, LimitExceededError
from uunet_cli.pipeline_common import (
    add_common_options,
    check_input,
    limits_from,
    load_engine,
    note,
    progress_bar,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reid",
        help="restore the faces of a de-identified clip (needs the key set)",
        description="Verify the clip's signature first, then restore faces learned or sealed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", type=Path, help="a clip written by uunet deid")
    p.add_argument(
        "-o", "--output", type=Path, required=True, default=argparse.SUPPRESS, help="restored MP4"
    )
    p.add_argument(
        "--keys",
        type=Path,
        required=True,
        default=argparse.SUPPRESS,
        help="key set directory (private side)",
    )
    p.add_argument("--mode", default="auto", choices=("auto", "learned", "sealed"),
                   help="auto: sealed originals when present and openable, else learned (from "
                   "the identity payload in the pixels; a clip that lost its manifest, e.g. "
                   "re-encoded, is restored this way and reported as NOT verified)")  # fmt: skip
    p.add_argument("--tracks", default=None,
                   help="restore only these track ids, e.g. 1,4 (default: all tracks)")  # fmt: skip
    p.add_argument("--crf", type=int, default=16, help="x264 quality (1-51, lower is better)")
    p.add_argument("--lossless", action="store_true",
                   help="write the restored clip without loss (H.264 High 4:4:4 Predictive, "
                   "qp 0, RGB; plays in VLC/mpv, not browsers): sealed face boxes come back "
                   "exactly as decoded from the original")  # fmt: skip
    p.add_argument("--original", action="store_true",
                   help="write the sealed original input file itself (clips made with --seal "
                   "original or both); its SHA-256 is checked against the signed manifest")  # fmt: skip
    add_common_options(p)
    p.set_defaults(handler=run)


def parse_tracks(text: str | None) -> frozenset[int] | None:
    """``"1,4"`` -> frozenset({1, 4}); None -> None (every track)."""
    if text is None:
        return None
    try:
        ids = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise BadInputError(f"--tracks: {text!r} is not a comma-separated list of ids") from err
    if not ids or min(ids) < 0:
        raise BadInputError(f"--tracks: {text!r} names no valid track id")
    return ids


def run(args: argparse.Namespace) -> int:
    """Verify, restore with a progress bar, print a summary."""
    from shared.crypto.keys import PrivateSideKeys
    from shared.pipeline.api import ReidOptions, reidentify_clip
    from shared.video.encode import check_crf

    check_input(args.input)
    check_crf(args.crf)
    options = ReidOptions(
        mode=args.mode,
        tracks=parse_tracks(args.tracks),
        device=args.device,
        limits=limits_from(args),
        batch_frames=args.batch_frames,
        crf=args.crf,
        lossless=args.lossless,
        original=args.original,
    )
    keys = PrivateSideKeys.load(args.keys)
    engine, frames = _engine_if_needed(args, keys, options)
    with progress_bar("restoring", args.quiet, frames) as progress:
        report = reidentify_clip(args.input, args.output, keys, engine, options, progress)
    if report.integrity != "verified":  # said even with --quiet: never silently
        note(args, f"WARNING: {report.notes[0]}", force=True)
    elif not args.quiet:
        note(args, f"signature verified (key {keys.key_id})")
    if not args.quiet:
        for line in report.notes[1 if report.integrity != "verified" else 0 :]:
            note(args, line)
        print(summary(args.output, report))
    return 0


def summary(output: Path, report: Any) -> str:
    """One line: what was restored, how, which tracks (and UNVERIFIED when the clip was)."""
    if report.mode_used == "original":
        return (
            f"{output}: the sealed original file, SHA-256 {report.output_sha256} "
            f"(equals the signed manifest's), {report.seconds:.1f} s"
        )
    tracks = ",".join(str(t) for t in report.tracks) or "none"
    how = report.mode_used + (", exact" if report.exact else "")
    how += ", from the identity payload" if report.payload else ""
    how += ", integrity NOT verified" if report.integrity != "verified" else ""
    return (
        f"{output}: {report.faces_restored} faces restored ({how}) in {report.frames} frames, "
        f"tracks {tracks}, {report.seconds:.1f} s"
    )


def _engine_if_needed(args: argparse.Namespace, keys: Any, options: Any) -> tuple[Any, int]:
    """The model, or None when restoration will be sealed (no weights needed); the clip's frames.

    The request is checked here before any model is loaded, so a foreign or tampered clip, or an
    option the clip cannot serve, is refused with its own reason and nothing is written
    (``reidentify_clip`` checks again: it never trusts its caller).
    """
    from shared.pipeline.api import check_reidentify

    if args.input.stat().st_size > args.max_bytes:
        raise LimitExceededError(f"{args.input.name}: over the limit of {args.max_bytes} bytes")
    plan = check_reidentify(args.input, keys, options)
    frames = plan.manifest.frames if plan.manifest is not None else _frames(args.input, options)
    if plan.mode != "learned" or plan.payload:  # the payload needs the key, not the weights
        return None, frames
    return load_engine(args.checkpoint, args.device), frames


def _frames(path: Path, options: Any) -> int:
    from shared.pipeline.api import probe_clip

    return probe_clip(path, options.limits).frames
