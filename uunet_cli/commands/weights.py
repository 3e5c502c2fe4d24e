"""``uunet weights keygen|encrypt|export``: split a checkpoint between the two sides.

The private module only ever leaves a checkpoint encrypted (``encrypt``, for the private worker);
the public side gets a checkpoint with the private module removed (``export --part public``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from shared.domain.errors import ConfigError

if TYPE_CHECKING:
    from shared.model.checkpoint import Checkpoint


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "weights",
        help="split a checkpoint: the private module encrypted, the public module on its own",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    actions = p.add_subparsers(dest="weights_action", metavar="ACTION", required=True)
    keygen = actions.add_parser(
        "keygen",
        help="write a new random weights key (32 bytes, base64, mode 0600)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    keygen.add_argument("-o", "--output", type=Path, required=True, help="key file to create")
    keygen.set_defaults(handler=run)
    enc = actions.add_parser(
        "encrypt",
        help="extract the private module of a checkpoint and encrypt it (AES-256-GCM)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _checkpoint_args(enc)
    enc.add_argument("--key-file", type=Path, required=True, help="weights key file")
    enc.add_argument(
        "--new-key", action="store_true", help="create --key-file first (refuses to overwrite)"
    )
    enc.add_argument("-o", "--output", type=Path, required=True, help="encrypted file to write")
    enc.set_defaults(handler=run)
    export = actions.add_parser(
        "export",
        help="write a checkpoint without the private module (what the public worker loads)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # Only the public half is ever written in the clear; the private one goes through `encrypt`.
    export.add_argument("--part", choices=("public",), default="public", help="half to keep")
    _checkpoint_args(export)
    export.add_argument("-o", "--output", type=Path, required=True, help="checkpoint to write")
    export.set_defaults(handler=run)


def _checkpoint_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="UU-Net checkpoint (default: shipped weights)"
    )
    parser.add_argument("--half", action="store_true", help="store the weights as float16")


def run(args: argparse.Namespace) -> int:
    from shared.crypto.weights import generate_key_file

    if args.weights_action == "keygen":
        print(f"wrote {args.output} (key id {generate_key_file(args.output)})")
        return 0
    from shared.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    ckpt = load_checkpoint(args.checkpoint or DEFAULT_CHECKPOINT)
    if args.weights_action == "export":
        return _export(ckpt, args.output, args.half)
    return _encrypt(ckpt, args)


def _export(ckpt: Checkpoint, output: Path, half: bool) -> int:
    from shared.model.checkpoint import save_public_only

    save_public_only(ckpt, output, half)
    print(f"wrote {output}: public module of {ckpt.model_id} {ckpt.version} (no private module)")
    return 0


def _encrypt(ckpt: Checkpoint, args: argparse.Namespace) -> int:
    from shared.crypto.weights import (
        encrypt_weights,
        generate_key_file,
        load_key_file,
        weights_key_id,
    )
    from shared.model.checkpoint import part_to_bytes

    if args.new_key:
        generate_key_file(args.key_file)
    key = load_key_file(args.key_file)
    plain = part_to_bytes(ckpt, "private", half=args.half)
    meta = {"part": "private", "model_id": ckpt.model_id, "version": ckpt.version}
    blob = encrypt_weights(plain, key, meta)
    try:
        args.output.write_bytes(blob)
        args.output.chmod(0o600)
    except OSError as err:
        raise ConfigError(f"cannot write {args.output}: {err.strerror}") from None
    print(
        f"wrote {args.output}: private module of {ckpt.model_id} {ckpt.version}, "
        f"{len(blob)} bytes, key id {weights_key_id(key)}"
    )
    return 0
