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
                   help="auto: sealed originals when present and openable, else learned")  # fmt: skip
    p.add_argument("--tracks", default=None,
                   help="restore only these track ids, e.g. 1,4 (default: all tracks)")  # fmt: skip
    p.add_argument("--crf", type=int, default=16, help="x264 quality (0-51, lower is better)")
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

    check_input(args.input)
    if not 0 <= args.crf <= 51:
        raise BadInputError("--crf must be within 0..51")
    options = ReidOptions(
        mode=args.mode,
        tracks=parse_tracks(args.tracks),
        device=args.device,
        limits=limits_from(args),
        batch_frames=args.batch_frames,
        crf=args.crf,
    )
    keys = PrivateSideKeys.load(args.keys)
    engine, frames = _engine_if_needed(args, keys)
    with progress_bar("restoring", args.quiet, frames) as progress:
        report = reidentify_clip(args.input, args.output, keys, engine, options, progress)
    if not args.quiet:
        tracks = ",".join(str(t) for t in report.tracks) or "none"
        note(args, f"signature verified (key {keys.key_id})")
        print(
            f"{args.output}: {report.faces_restored} faces restored ({report.mode_used}) "
            f"in {report.frames} frames, tracks {tracks}, {report.seconds:.1f} s"
        )
    return 0


def _engine_if_needed(args: argparse.Namespace, keys: Any) -> tuple[Any, int]:
    """The model, or None when restoration will be sealed (no weights needed); the clip's frames.

    The clip is verified here before any model is loaded, so a foreign or tampered clip is refused
    with its own reason (``reidentify_clip`` verifies again: it never trusts its caller).
    """
    from shared.pipeline.container import read_verified
    from shared.pipeline.reid import resolve_mode

    if args.input.stat().st_size > args.max_bytes:
        raise LimitExceededError(f"{args.input.name}: over the limit of {args.max_bytes} bytes")
    manifest = read_verified(args.input, keys.verify_key, keys.key_id).manifest
    if resolve_mode(args.mode, manifest, keys) == "sealed":
        return None, manifest.frames
    return load_engine(args.checkpoint, args.device), manifest.frames
