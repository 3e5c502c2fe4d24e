"""``uunet donors build|info``: the donor banks the public module draws surrogate faces from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.domain.errors import BadInputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "donors",
        help="build or describe a donor bank (the faces surrogates are made from)",
        description="Donor banks hold the faces the public module aligns onto each track. The "
        "shipped bank is drawn from a DCGAN trained on DigiFace-1M (non-commercial research "
        "only); a deployment can build its own from face images it has rights to.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    actions = p.add_subparsers(dest="donors_action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="build a bank from a folder of face images, or from the DCGAN face prior",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = build.add_mutually_exclusive_group(required=True)
    src.add_argument("--folder", type=Path, help="folder of face images (jpg, png, webp, bmp)")
    src.add_argument("--dcgan", action="store_true", help="draw from the DCGAN face prior")
    build.add_argument("--count", type=int, default=8192, help="DCGAN latents to try")
    build.add_argument("--seed", type=int, default=20_261_129, help="DCGAN latent seed")
    build.add_argument("-o", "--output", type=Path, required=True, help="bank file to write")
    build.set_defaults(handler=run)
    info = actions.add_parser("info", help="describe a bank file (one JSON line)")
    info.add_argument("bank", type=Path, nargs="?", default=None,
                      help="bank file (None: the shipped bank)")  # fmt: skip
    info.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from shared.surrogate.bank_build import BankOptions, build_dcgan_bank, build_folder_bank
    from shared.surrogate.donors import load_bank, save_bank

    if args.donors_action == "info":
        bank = load_bank(args.bank)
        print(json.dumps({"bank_id": bank.bank_id, "kind": bank.kind, "donors": len(bank),
                          "size": bank.size, "meta": bank.meta}, default=str))  # fmt: skip
        return 0
    torch.set_num_threads(max(1, torch.get_num_threads() // 2))
    if args.dcgan:
        if args.count < 1:
            raise BadInputError("--count must be at least 1")
        bank = build_dcgan_bank(BankOptions(count=args.count, seed=args.seed))
    else:
        bank = build_folder_bank(args.folder)
    save_bank(args.output, bank)
    print(f"wrote {args.output}: {len(bank)} donors ({bank.meta})")
    return 0
