"""``uunet deid IN -o OUT``: replace every face, sign the manifest into the MP4, seal originals."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from shared.domain.errors import BadInputError, ConfigError
from shared.model.config import ATTRIBUTES
from uunet_cli.pipeline_common import (
    add_common_options,
    check_input,
    human_bytes,
    limits_from,
    load_engine,
    note,
    progress_bar,
)

if TYPE_CHECKING:
    from shared.pipeline.api import DeidReport


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "deid",
        help="de-identify the faces of a video clip",
        description="Replace every face with a keyed UU-Net surrogate; embed a signed manifest.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        add_help=False,
    )
    p.add_argument("-h", "--help", action=_HelpWithModel, default=argparse.SUPPRESS,
                   nargs=0, help="show this help message and exit")  # fmt: skip
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
                   help="seal to the authority's public key: regions (the face regions, boxes "
                   "exact, margins at high quality: exact restore, one subject at a time), "
                   "original (the input file byte for byte), both; --seal alone is regions "
                   "(default: regions when the key set holds authority_x25519.pub.pem)")  # fmt: skip
    p.add_argument("--no-seal", dest="seal", action="store_const", const="none",
                   help="seal nothing (learned restoration only)")  # fmt: skip
    p.add_argument("--no-payload", dest="payload", action="store_false",
                   help="do not mark each face track's encrypted identity code into its pixels "
                   "(then only the sealed originals can restore it, and only while the clip "
                   "keeps its manifest box)")  # fmt: skip
    p.add_argument("--allow-marked", action="store_true",
                   help="de-identify a clip whose first faces carry this product's identity "
                   "payload (a public clip re-encoded, its manifest gone); refused by default, "
                   "since new surrogates would bury what restores the people in it")  # fmt: skip
    p.add_argument("--keep-audio", action="store_true",
                   help="keep the audio track (as AAC); the summary says when it cannot")  # fmt: skip
    p.add_argument("--attributes", default="", metavar="NAME=keep|change,...",
                   help=ATTRIBUTES_HELP)  # fmt: skip
    p.add_argument("--detect-every", type=int, default=10,
                   help="run the face detector every K frames, track in between")  # fmt: skip
    p.add_argument("--detector", default="yunet", choices=("yunet", "centerface"),
                   help="face detector")  # fmt: skip
    p.add_argument("--manifest-json", type=Path, default=None,
                   help="also write the signed manifest as JSON here")  # fmt: skip
    p.add_argument(
        "--clip-id", default=None, help="clip id for the keyed noise (default: a random id)"
    )
    p.add_argument("--crf", type=int, default=20, help="x264 quality (1-51, lower is better)")
    p.add_argument("--donors", type=Path, default=None,
                   help="donor faces for the surrogates: a bank file (uunet donors build) or a "
                   "folder of face images you have rights to (built once, then cached) (default: "
                   "the shipped DCGAN bank, non-commercial research use only)")  # fmt: skip
    add_common_options(p)
    p.set_defaults(handler=run)


ATTRIBUTES_HELP = (
    "soft attributes to keep or change, only those the model was trained to control "
    f"(names: {', '.join(ATTRIBUTES)})"
)


class _HelpWithModel(argparse.Action):
    """``--help`` that first says which attributes the model to be loaded controls (read from it).

    It reads ``--checkpoint`` when that comes before ``--help``, else the shipped weights.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:  # fmt: skip
        for action in parser._actions:
            if action.dest == "attributes":
                action.help = f"{ATTRIBUTES_HELP}; {attributes_note(namespace.checkpoint)}"
        parser.print_help()
        parser.exit()


def attributes_note(checkpoint: Path | None) -> str:
    """What ``--attributes`` the checkpoint (None: the shipped one) accepts, from its config."""
    from shared.domain.errors import UUNetError
    from shared.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    path = checkpoint or DEFAULT_CHECKPOINT
    try:
        config = load_checkpoint(path).config
    except UUNetError as err:
        return f"cannot read {path} to say which: {err}"
    policy = config.policy()
    if not policy:
        return f"the model {config.model_id} ({path.name}) controls none: leave this out"
    accepted = ",".join(f"{name}={want}" for name, want in sorted(policy.items()))
    return f"the model {config.model_id} ({path.name}) accepts {accepted} or a part of it"


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
        payload=args.payload,
        allow_marked=args.allow_marked,
    )
    clip = probe_clip(args.input, options.limits)  # refuse bad input before loading a model
    keys = PublicSideKeys.load(_keys_dir(args))
    engine = load_engine(args.checkpoint, args.device, args.donors)
    with progress_bar("de-identifying", args.quiet, clip.frames) as progress:
        report = deidentify_clip(args.input, args.output, keys, engine, options, progress)
    if not args.quiet:
        print(summary(args.output, clip.size_bytes, report, keys.key_id))
    return 0


def summary(output: Path, input_bytes: int, report: DeidReport, key_id: str) -> str:
    """Two lines: what was replaced, then sizes (sealed originals can outweigh the video) and audio."""
    fps = report.frames / max(report.seconds, 1e-9)
    blurred = f" ({report.blurred} unconfirmed, blurred)" if report.blurred else ""
    head = (
        f"{output}: {report.frames} frames, {report.faces} faces in {report.tracks} track(s) "
        f"replaced{blurred}, key {key_id}, {report.seconds:.1f} s ({fps:.1f} frames/s)"
    )
    sealed = (
        f"of which {human_bytes(report.sealed_bytes)} are sealed originals "
        f"({report.seal}; --no-seal: none)"
        if report.sealed
        else "no sealed originals"
    )
    payload = (
        f"identity payload in the pixels of {report.payload_tracks} track(s) "
        f"({report.payload_ms_per_face:.1f} ms per face)"
        if report.payload
        else "no identity payload (--no-payload)"
    )
    size = (
        f"  {human_bytes(output.stat().st_size)} (input {human_bytes(input_bytes)}), {sealed}, "
        f"{payload}"
    )
    return f"{head}\n{size}" + (f"; {report.audio}" if report.audio else "")
