"""``uunet deid IN -o OUT``: replace every face, sign the manifest into the MP4, seal originals."""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.domain.errors import BadInputError, ConfigError
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
        "deid",
        help="de-identify the faces of a video clip",
        description="Replace every face with a keyed UU-Net surrogate; embed a signed manifest.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", type=Path, help="input clip (anything FFmpeg decodes)")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        default=argparse.SUPPRESS,
        help="output MP4 (H.264)",
    )
    p.add_argument("--keys", type=Path, default=None,
                   help="key set directory; when omitted, a dev key set in $UUNET_HOME/dev-keys "
                   "or ~/.config/uunet/dev-keys is used (created on first use)")  # fmt: skip
    p.add_argument("--seal", nargs="?", const="regions", default=None, metavar="KIND",
                   choices=("regions", "original", "both"),
                   help="seal to the authority's public key: regions (the face regions, lossless: "
                   "exact restore, one subject at a time), original (the input file byte for "
                   "byte), both; --seal alone is regions (None: regions when the key set holds "
                   "authority_x25519.pub.pem)")  # fmt: skip
    p.add_argument("--no-seal", dest="seal", action="store_const", const="none",
                   help="seal nothing (learned restoration only)")  # fmt: skip
    p.add_argument("--keep-audio", action="store_true", help="keep the audio track (AAC)")
    p.add_argument("--attributes", default="",
                   help="soft attributes to keep or change, e.g. gender=keep,beard=change")  # fmt: skip
    p.add_argument("--detect-every", type=int, default=10,
                   help="run the face detector every K frames, track in between")  # fmt: skip
    p.add_argument("--detector", default="yunet", choices=("yunet", "centerface"),
                   help="face detector")  # fmt: skip
    p.add_argument("--manifest-json", type=Path, default=None,
                   help="also write the signed manifest as JSON here")  # fmt: skip
    p.add_argument("--clip-id", default=None, help="clip id for the keyed noise (None: random)")
    p.add_argument("--crf", type=int, default=20, help="x264 quality (1-51, lower is better)")
    add_common_options(p)
    p.set_defaults(handler=run)


def parse_attributes(text: str) -> dict[str, str]:
    """``gender=keep,beard=change`` -> {"gender": "keep", "beard": "change"}."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or value.strip() not in ("keep", "change"):
            raise BadInputError(f"--attributes: {item!r} is not NAME=keep or NAME=change")
        out[name.strip()] = value.strip()
    return out


def _keys_dir(args: argparse.Namespace) -> Path:
    from shared.crypto.keys import INFO_FILE, default_dev_keys_dir, init_keyset

    if args.keys is not None:
        return Path(args.keys)
    path = default_dev_keys_dir()
    if not (path / INFO_FILE).exists():
        try:
            info = init_keyset(path)
        except ConfigError:
            if not (path / INFO_FILE).exists():
                raise
        else:  # another process may have created it meanwhile: then use that one
            note(args, f"created a dev key set {info.key_id} in {path} (not for production)")
            return path
    note(args, f"using the dev key set in {path}")
    return path


def run(args: argparse.Namespace) -> int:
    """Load keys and model, run the pipeline with a progress bar, print a summary."""
    from shared.crypto.keys import PublicSideKeys
    from shared.pipeline.api import DeidOptions, deidentify_clip, probe_clip
    from shared.video.encode import check_crf

    check_input(args.input)
    check_crf(args.crf)
    if args.detect_every < 1:
        raise BadInputError("--detect-every must be at least 1")
    options = DeidOptions(
        keep_audio=args.keep_audio,
        seal=args.seal,
        attributes=parse_attributes(args.attributes),
        device=args.device,
        limits=limits_from(args),
        clip_id=args.clip_id,
        detect_every=args.detect_every,
        detector=args.detector,
        batch_frames=args.batch_frames,
        crf=args.crf,
        manifest_json=args.manifest_json,
    )
    probe_clip(args.input, options.limits)  # refuse bad input before loading a model
    keys = PublicSideKeys.load(_keys_dir(args))
    engine = load_engine(args.checkpoint, args.device)
    with progress_bar("de-identifying", args.quiet) as progress:
        report = deidentify_clip(args.input, args.output, keys, engine, options, progress)
    if not args.quiet:
        sealed = f"sealed: {report.seal}" if report.sealed else "nothing sealed"
        print(
            f"{args.output}: {report.frames} frames, {report.faces} faces in {report.tracks} "
            f"track(s) replaced, {sealed}, key {keys.key_id}, {report.seconds:.1f} s "
            f"({report.frames / max(report.seconds, 1e-9):.1f} frames/s)"
        )
    return 0
