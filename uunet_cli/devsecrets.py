"""Secrets of the dev profile that ``uunet up`` makes once in its state directory and then reuses.

For ``--dev`` and ``--data-dir``: a key set, one vendor API key (its hash in ``api_keys.json``, the
key itself in ``dev-api-key`` for ``dev.json``), the dev token issuer (Ed25519), the audit key, the
weights key, the encrypted private module and the public module on its own (as the two sides hold
them in production). Every file is mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.private_reid.auth import DEV_AUDIENCE, DEV_ISSUER
from services.public_deid.auth import hash_key, new_api_key
from shared.crypto.files import write_private
from shared.crypto.keys import CUSTODY_PUB_FILE, PrivateSideKeys, custody_public_pem, init_keyset
from shared.crypto.weights import encrypt_weights, generate_key_file, load_key_file
from shared.devstack.stack import DevSecrets
from shared.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    load_checkpoint,
    part_to_bytes,
    save_public_only,
)
from uunet_cli.commands.dev_token import ISSUER_KEY, ISSUER_PUB


def prepare_secrets(state_dir: Path, checkpoint: Path | None) -> DevSecrets:
    """Create what is missing under ``state_dir``; split the checkpoint again every start."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    keys_dir = state_dir / "keys"
    if not (keys_dir / "keyset.json").exists():
        init_keyset(keys_dir)
    custody_pub = keys_dir / CUSTODY_PUB_FILE  # dev key sets made before custody records
    if not custody_pub.exists():
        write_private(custody_pub, custody_public_pem(PrivateSideKeys.load(keys_dir).authority()))
    api_key_path = state_dir / "dev-api-key"
    api_keys_file = state_dir / "api_keys.json"
    if not api_key_path.exists():
        api_key = new_api_key()
        write_private(api_key_path, api_key.encode())
        write_private(api_keys_file, json.dumps({"dev-vendor": hash_key(api_key)}).encode())
    issuer_private = state_dir / ISSUER_KEY
    issuer_public = state_dir / ISSUER_PUB
    if not issuer_private.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(issuer_private, pem)
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        write_private(issuer_public, pub)
    audit_key_file = state_dir / "audit.key"
    if not audit_key_file.exists():
        write_private(audit_key_file, os.urandom(32).hex().encode())
    weights_key_file = state_dir / "weights.key"
    if not weights_key_file.exists():
        generate_key_file(weights_key_file)
    encrypted: Path | None = state_dir / "private-weights.enc"
    assert encrypted is not None
    ckpt = load_checkpoint(checkpoint or DEFAULT_CHECKPOINT)
    if ckpt.config.has_private:
        meta = {"part": "private", "model_id": ckpt.model_id, "version": ckpt.version}
        plain = part_to_bytes(ckpt, "private")
        write_private(encrypted, encrypt_weights(plain, load_key_file(weights_key_file), meta))
    else:  # a donor model has no learned private module: the private side restores sealed only
        encrypted.unlink(missing_ok=True)
        encrypted = None
    public_checkpoint = save_public_only(ckpt, state_dir / "public-weights.pt")
    public_checkpoint.chmod(0o600)
    return DevSecrets(
        keys_dir=keys_dir,
        api_key=api_key_path.read_text().strip(),
        api_keys_file=api_keys_file,
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        issuer_private=issuer_private,
        issuer_public=issuer_public,
        weights_key_file=weights_key_file,
        encrypted_weights=encrypted,
        public_checkpoint=public_checkpoint,
        audit_key_file=audit_key_file,
    )
