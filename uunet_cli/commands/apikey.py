"""``uunet apikey create|list|revoke``: manage vendor API keys of the public service.

The keys file holds only SHA-256 hashes (``{key_id: sha256-hex}``, or ``{key_id: {"sha256": hex,
<limit>: n}}`` for a key with its own limits); a new key is printed once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from shared.crypto.files import write_private
from shared.domain.errors import BadInputError, ConfigError

if TYPE_CHECKING:
    from services.public_deid.auth import KeyEntry


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "apikey",
        help="create, list or revoke vendor API keys (stored hashed)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, helptext in (
        ("create", "create a key for NAME and print it once (only its hash is stored)"),
        ("list", "list the key names"),
        ("revoke", "remove NAME's key"),
    ):
        a = actions.add_parser(
            name, help=helptext, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        a.add_argument("--file", type=Path, required=True, help="API keys file (API_KEYS_FILE)")
        if name != "list":
            a.add_argument("--name", required=True, help="key id, e.g. the vendor's name")
        if name == "create":
            a.add_argument("--force", action="store_true", help="replace an existing key of NAME")
            a.add_argument("--max-upload-mb", type=int, default=None,
                           help="this key's upload size limit (None: the service's MAX_UPLOAD_MB)")  # fmt: skip
            a.add_argument("--rate-per-minute", type=int, default=None,
                           help="this key's submissions per minute (None: RATE_LIMIT_PER_MINUTE)")  # fmt: skip
            a.add_argument("--jobs-per-day", type=int, default=None,
                           help="this key's jobs per UTC day (None: JOBS_PER_DAY; 0: no quota)")  # fmt: skip
        a.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from services.public_deid.auth import LIMIT_NAMES, hash_key, new_api_key, read_keys_file

    path: Path = args.file
    keys = read_keys_file(path) if path.exists() else {}
    if args.action == "list":
        for name in sorted(keys):
            print(name)
        return 0
    name = str(args.name).strip()
    if not name or any(c.isspace() for c in name):
        raise BadInputError("--name must be a non-empty word without spaces")
    if args.action == "revoke":
        if keys.pop(name, None) is None:
            raise BadInputError(f"no key named {name!r} in {path}")
        _write(path, keys)
        print(f"revoked {name}")
        return 0
    if name in keys and not args.force:
        raise BadInputError(f"a key named {name!r} exists (use --force to replace it)")
    key = new_api_key()
    limits = {n: getattr(args, n) for n in LIMIT_NAMES if getattr(args, n) is not None}
    if any(v < 0 for v in limits.values()):
        raise BadInputError("limits must be 0 or more")
    keys[name] = {"sha256": hash_key(key), **limits} if limits else hash_key(key)
    _write(path, keys)
    print(key)
    return 0


def _write(path: Path, keys: dict[str, KeyEntry]) -> None:
    """Write atomically with mode 0600 (the hashes are not secrets, but names of vendors are)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(keys, indent=2, sort_keys=True) + "\n")
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}") from None
