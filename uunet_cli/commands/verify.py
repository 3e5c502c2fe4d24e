"""``uunet verify CLIP``: check a public clip's signature and say what it carries (no secret needed).

Exit 0 only when the signature verifies; any failure is one line and exit 2 (with ``--json``, a
``{"verified": false, "error": ...}`` object on stdout as well).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from shared.domain.errors import BadInputError, UUNetError
from uunet_cli.pipeline_common import check_input, note

_SEALS = {
    "none": "nothing sealed (learned restoration only)",
    "regions": "face regions: boxes exact, margins at high quality (exact restore, per-track "
    "disclosure)",
    "original": "the original input file, byte for byte",
    "both": "face regions (boxes exact) and the original input file",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="check a de-identified clip's signature and print its manifest in plain words",
        description="Verify the Ed25519 signature over the manifest, the video and the seal. "
        "Needs only the public signing key; exit 0 only when it verifies.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", type=Path, help="a clip written by uunet deid")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--verify-key", type=Path, default=None,
                     help="the signer's public key (signing_ed25519.pub.pem)")  # fmt: skip
    src.add_argument("--keys", type=Path, default=None,
                     help="a key set directory; only its signing_ed25519.pub.pem is read "
                     "(None with no --verify-key: the dev key set, if there is one)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(handler=run)


def _verify_key(args: argparse.Namespace) -> Any:
    from shared.crypto.keys import VERIFY_FILE, default_dev_keys_dir
    from shared.crypto.signing import load_public_key

    if args.verify_key is not None:
        return load_public_key(args.verify_key)
    if args.keys is not None:
        return load_public_key(Path(args.keys) / VERIFY_FILE)
    dev = default_dev_keys_dir() / VERIFY_FILE
    if not dev.exists():
        raise BadInputError("give the signer's public key: --verify-key PEM or --keys DIR")
    if not args.json:
        note(args, f"using the dev key set's public key {dev}")
    return load_public_key(dev)


def describe(path: Path, verify_key: Any) -> dict[str, Any]:
    """Verify ``path`` and return its manifest as plain facts (raises on any failure)."""
    from shared.crypto.keys import signing_key_id
    from shared.pipeline.container import read_verified
    from shared.pipeline.errors import guarded

    emb = guarded("verification")(read_verified)(path, verify_key, None)
    m = emb.manifest
    return {
        "verified": True,
        "signer_key_id": m.signer_id or signing_key_id(verify_key),
        "key_set_id": m.key_id,
        "created_at": m.created_at,
        "created_utc": dt.datetime.fromtimestamp(m.created_at, dt.UTC).isoformat(
            timespec="seconds"
        ),
        "software": m.software or "unknown (manifest format 1)",
        "model": {"id": m.model_id, "version": m.model_version},
        "detector": m.detector,
        "video": {
            "frames": m.frames,
            "fps": m.fps,
            "width": m.width,
            "height": m.height,
            "audio": m.audio,
        },
        "tracks": [
            {
                "id": t.track_id,
                "first_frame": t.first_frame,
                "last_frame": t.last_frame,
                "faces": t.faces,
            }
            for t in m.tracks
        ],
        "seal": m.seal,
        "authority_key_id": m.authority_key_id,
        "sealed_bytes": emb.sealed_length,
        "original": {"sha256": m.original_sha256, "bytes": m.original_bytes},
        "manifest_sha256": hashlib.sha256(emb.manifest_bytes).hexdigest(),
        "video_sha256": emb.video_sha256.hex(),
        "manifest_format": m.format_version,
    }


def _text(facts: dict[str, Any]) -> str:
    v = facts["video"]
    tracks = "; ".join(
        f"{t['id']}: frames {t['first_frame']}-{t['last_frame']} ({t['faces']} faces)"
        for t in facts["tracks"]
    )
    seal = _SEALS.get(facts["seal"], facts["seal"])
    if facts["seal"] != "none":
        seal += f", to authority key {facts['authority_key_id']}, {facts['sealed_bytes']} bytes"
    original = facts["original"]
    if original["sha256"]:
        original_line = f"SHA-256 {original['sha256']} ({original['bytes']} bytes)"
    else:
        original_line = "not recorded (manifest format 1)"
    lines = [
        "VERIFIED: the signature covers the manifest, the video stream and the seal",
        f"  signer      key {facts['signer_key_id']} (Ed25519), key set {facts['key_set_id']}",
        f"  made        {facts['created_utc']} by {facts['software']}",
        f"  model       {facts['model']['id']} {facts['model']['version']}, "
        f"detector {facts['detector'] or 'unknown'}",
        f"  video       {v['frames']} frames, {v['width']}x{v['height']} at {v['fps']:.3f} fps, "
        f"{'audio kept' if v['audio'] else 'no audio'}",
        f"  tracks      {len(facts['tracks'])}" + (f": {tracks}" if tracks else ""),
        f"  seal        {seal}",
        f"  original    {original_line}",
        f"  manifest    SHA-256 {facts['manifest_sha256']}",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Verify and print; exit 2 (one line) when it does not verify."""
    try:
        check_input(args.input)
        facts = describe(args.input, _verify_key(args))
    except UUNetError as err:
        if args.json:
            print(json.dumps({"verified": False, "error": str(err)}))
        raise
    print(json.dumps(facts, indent=2, sort_keys=True) if args.json else _text(facts))
    sys.stdout.flush()
    return 0
