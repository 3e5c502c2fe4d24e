"""``uunet keys init DIR``: create a key set (secret, Ed25519 signing pair, X25519 authority)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "keys",
        help="manage key sets",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    actions = p.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create a new key set in DIR (dir 0700, files 0600; refuses to overwrite)",
        description="Create a key set in DIR: the keyed-noise secret, an Ed25519 signing pair and "
        "an X25519 authority pair (dir 0700, files 0600; an existing set is never overwritten).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    init.add_argument("dir", type=Path, help="directory to create the key set in")
    init.set_defaults(handler=run_init)
    custody = actions.add_parser(
        "custody-key",
        help="print the public key that verifies custody records (derived from the authority "
        "key in DIR; for key sets made before custody records existed)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    custody.add_argument("dir", type=Path, help="a key set holding authority_x25519.pem")
    custody.set_defaults(handler=run_custody_key)


def run_init(args: argparse.Namespace) -> int:
    """Create the key set and say where it is and which files each side needs."""
    from shared.crypto.keys import init_keyset

    info = init_keyset(args.dir)
    print(f"key set {info.key_id} written to {info.path}")
    print("  public (de-identifying) side needs: deid_secret.key, signing_ed25519.pem,")
    print("    authority_x25519.pub.pem (to seal originals), keyset.json")
    print("  private (restoring) side needs: deid_secret.key, signing_ed25519.pub.pem,")
    print("    authority_x25519.pem (to open sealed originals, sign custody records), keyset.json")
    print("  anyone may hold: signing_ed25519.pub.pem (uunet verify),")
    print("    custody_ed25519.pub.pem (uunet audit verify --custody-key)")
    return 0


def run_custody_key(args: argparse.Namespace) -> int:
    """Print the custody verify key (PEM) of a key set."""
    from shared.crypto.keys import PrivateSideKeys, custody_public_pem

    print(custody_public_pem(PrivateSideKeys.load(args.dir).authority()).decode(), end="")
    return 0
