"""Key sets: the files written by ``uunet keys init DIR`` and the two sides that load them.

A key set directory (mode 0700, files 0600) holds:

- ``deid_secret.key``          32 random bytes, base64: HMAC key of the keyed noise (both sides)
- ``signing_ed25519.pem``      Ed25519 private key (PKCS8 PEM): the public service signs manifests
- ``signing_ed25519.pub.pem``  Ed25519 public key: the private service verifies
- ``authority_x25519.pem``     X25519 private key: only the private service (opens sealed originals)
- ``authority_x25519.pub.pem`` X25519 public key: the public service seals to it
- ``keyset.json``              ``{"key_id": ..., "authority_key_id": ..., "created_at": ...}``
- ``custody_ed25519.pub.pem``  public key that verifies the private service's custody records

The custody signing key is not a file: the private side derives it from the authority key
(:func:`custody_key`, HKDF with its own label), so every deployment that can open seals can sign
custody records without one more secret to distribute, and the public side can never forge one.

``key_id`` is a short hash of the Ed25519 public key and of a fingerprint of the secret, so both
sides compute the same id from the files each of them holds (the authority key has its own id,
because a public side may run without it). A deployment copies only the files a side needs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.domain.errors import ConfigError

SECRET_FILE = "deid_secret.key"
SIGNING_FILE = "signing_ed25519.pem"
VERIFY_FILE = "signing_ed25519.pub.pem"
AUTHORITY_FILE = "authority_x25519.pem"
AUTHORITY_PUB_FILE = "authority_x25519.pub.pem"
INFO_FILE = "keyset.json"
CUSTODY_PUB_FILE = "custody_ed25519.pub.pem"
ALL_FILES = (SECRET_FILE, SIGNING_FILE, VERIFY_FILE, AUTHORITY_FILE, AUTHORITY_PUB_FILE, INFO_FILE,
             CUSTODY_PUB_FILE)  # fmt: skip
_CUSTODY_INFO = b"uunet-custody-ed25519/v1"
SECRET_BYTES = 32


@dataclass(frozen=True)
class KeySetInfo:
    """What ``init_keyset`` wrote: where, the ids, and when."""

    path: Path
    key_id: str
    authority_key_id: str
    created_at: float


def _raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def secret_fingerprint(secret: bytes) -> bytes:
    """A one-way id of the secret (never the secret itself)."""
    return hashlib.sha256(b"uunet-secret-id/v1\x00" + secret).digest()


def key_id(verify_key: Ed25519PublicKey, secret: bytes) -> str:
    """Short id (16 hex) binding the signing public key and the de-identification secret."""
    digest = hashlib.sha256(b"uunet-key-id/v1\x00" + _raw_public(verify_key))
    digest.update(secret_fingerprint(secret))
    return digest.hexdigest()[:16]


def authority_key_id(authority_public: X25519PublicKey) -> str:
    """Short id (16 hex) of the authority's X25519 public key."""
    return hashlib.sha256(b"uunet-authority-id/v1\x00" + _raw_public(authority_public)).hexdigest()[
        :16
    ]


def signing_key_id(verify_key: Ed25519PublicKey) -> str:
    """Short id (16 hex) of an Ed25519 public key alone: names a signer without any secret."""
    return hashlib.sha256(b"uunet-signer-id/v1\x00" + _raw_public(verify_key)).hexdigest()[:16]


def custody_key(authority: X25519PrivateKey) -> Ed25519PrivateKey:
    """The private side's custody signing key, derived one-way from the authority key."""
    raw = authority.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CUSTODY_INFO).derive(raw)
    return Ed25519PrivateKey.from_private_bytes(seed)


def custody_public_pem(authority: X25519PrivateKey) -> bytes:
    """PEM of the custody verify key (what ``uunet audit verify --custody-key`` reads)."""
    return (
        custody_key(authority)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600, refusing to replace an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # the umask may have narrowed it; never widened


def init_keyset(directory: Path) -> KeySetInfo:
    """Create a fresh key set in ``directory`` (0700, files 0600); refuses to overwrite one."""
    directory = Path(directory)
    existing = [name for name in ALL_FILES if (directory / name).exists()]
    if existing:
        raise ConfigError(
            f"{directory} already holds a key set ({existing[0]}); refusing to overwrite"
        )
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    except OSError as err:
        raise ConfigError(f"cannot create key directory {directory}: {err.strerror}") from err
    secret = os.urandom(SECRET_BYTES)
    signing = Ed25519PrivateKey.generate()
    authority = X25519PrivateKey.generate()
    pkcs8 = serialization.PrivateFormat.PKCS8
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    plain = serialization.NoEncryption()
    info = KeySetInfo(
        path=directory,
        key_id=key_id(signing.public_key(), secret),
        authority_key_id=authority_key_id(authority.public_key()),
        created_at=time.time(),
    )
    meta = {
        "key_id": info.key_id,
        "authority_key_id": info.authority_key_id,
        "created_at": info.created_at,
        "format": 1,
    }
    files = {
        SECRET_FILE: base64.b64encode(secret) + b"\n",
        SIGNING_FILE: signing.private_bytes(pem, pkcs8, plain),
        VERIFY_FILE: signing.public_key().public_bytes(pem, spki),
        AUTHORITY_FILE: authority.private_bytes(pem, pkcs8, plain),
        AUTHORITY_PUB_FILE: authority.public_key().public_bytes(pem, spki),
        INFO_FILE: (json.dumps(meta, indent=2) + "\n").encode(),
        CUSTODY_PUB_FILE: custody_public_pem(authority),
    }
    try:
        for name, data in files.items():
            _write_new(directory / name, data)
    except OSError as err:
        raise ConfigError(f"cannot write key set in {directory}: {err.strerror}") from err
    return info


def _read(directory: Path, name: str) -> bytes:
    path = Path(directory) / name
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise ConfigError(f"key set {directory}: missing {name}") from err
    except OSError as err:
        raise ConfigError(f"key set {directory}: cannot read {name}: {err.strerror}") from err


def load_secret(directory: Path) -> bytes:
    """The de-identification secret (32 bytes) of a key set."""
    text = _read(directory, SECRET_FILE).strip()
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ConfigError(f"key set {directory}: {SECRET_FILE} is not base64") from err
    if len(secret) != SECRET_BYTES:
        raise ConfigError(f"key set {directory}: {SECRET_FILE} must hold {SECRET_BYTES} bytes")
    return secret


def _load_private(directory: Path, name: str) -> object:
    try:
        return serialization.load_pem_private_key(_read(directory, name), password=None)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"key set {directory}: {name} is not a valid private key") from err


def _load_public(directory: Path, name: str) -> object:
    try:
        return serialization.load_pem_public_key(_read(directory, name))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"key set {directory}: {name} is not a valid public key") from err


def _typed(key: object, kind: Any, directory: Path, name: str) -> Any:
    if not isinstance(key, kind):
        raise ConfigError(f"key set {directory}: {name} holds the wrong key type")
    return key


def _check_info(directory: Path, computed: str) -> None:
    """If ``keyset.json`` is present, its key id must match the keys actually loaded."""
    path = Path(directory) / INFO_FILE
    if not path.exists():
        return
    try:
        stored = json.loads(path.read_text()).get("key_id")
    except (OSError, ValueError, AttributeError) as err:
        raise ConfigError(f"key set {directory}: {INFO_FILE} is unreadable") from err
    if stored is not None and stored != computed:
        raise ConfigError(f"key set {directory}: files do not belong to one key set (key id)")


@dataclass(frozen=True)
class PublicSideKeys:
    """What the public (de-identifying) side holds: secret, signing key, authority public key."""

    secret: bytes = field(repr=False)
    signing_key: Ed25519PrivateKey = field(repr=False)
    authority_public: X25519PublicKey | None
    key_id: str

    @property
    def authority_key_id(self) -> str | None:
        """Id of the authority key sealed to, or None when this side cannot seal."""
        return None if self.authority_public is None else authority_key_id(self.authority_public)

    @classmethod
    def load(cls, directory: Path) -> PublicSideKeys:
        """Load the public side's files; ConfigError with a one-line reason if missing or bad."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ConfigError(f"key set directory {directory} does not exist")
        secret = load_secret(directory)
        signing: Ed25519PrivateKey = _typed(
            _load_private(directory, SIGNING_FILE), Ed25519PrivateKey, directory, SIGNING_FILE
        )
        authority: X25519PublicKey | None = None
        if (directory / AUTHORITY_PUB_FILE).exists():
            pub: X25519PublicKey = _typed(
                _load_public(directory, AUTHORITY_PUB_FILE),
                X25519PublicKey,
                directory,
                AUTHORITY_PUB_FILE,
            )
            authority = pub
        kid = key_id(signing.public_key(), secret)
        _check_info(directory, kid)
        return cls(secret=secret, signing_key=signing, authority_public=authority, key_id=kid)


def load_verify_key(directory: Path) -> tuple[Ed25519PublicKey, str]:
    """The signature verify key and the key set's id as ``keyset.json`` records it: what the
    private API checks requests with, without the noise secret (which the id is derived from)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"key set directory {directory} does not exist")
    key: Ed25519PublicKey = _typed(
        _load_public(directory, VERIFY_FILE), Ed25519PublicKey, directory, VERIFY_FILE
    )
    try:
        kid = json.loads(_read(directory, INFO_FILE)).get("key_id")
    except (ValueError, AttributeError) as err:
        raise ConfigError(f"key set {directory}: {INFO_FILE} is unreadable") from err
    if not isinstance(kid, str) or not kid:
        raise ConfigError(f"key set {directory}: {INFO_FILE} records no key id")
    return key, kid


@dataclass(frozen=True)
class PrivateSideKeys:
    """What the private (restoring) side holds: secret, verify key, authority private key."""

    secret: bytes = field(repr=False)
    verify_key: Ed25519PublicKey
    authority_private: X25519PrivateKey | None = field(repr=False)
    key_id: str

    @property
    def authority_key_id(self) -> str | None:
        """Id of the authority key this side can open, or None."""
        if self.authority_private is None:
            return None
        return authority_key_id(self.authority_private.public_key())

    def authority(self) -> X25519PrivateKey:
        """The authority key; ConfigError when this key set has none."""
        if self.authority_private is None:
            raise ConfigError("the key set has no authority_x25519.pem")
        return self.authority_private

    @classmethod
    def load(cls, directory: Path) -> PrivateSideKeys:
        """Load the private side's files; ConfigError with a one-line reason if missing or bad."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ConfigError(f"key set directory {directory} does not exist")
        secret = load_secret(directory)
        verify: Ed25519PublicKey = _typed(
            _load_public(directory, VERIFY_FILE), Ed25519PublicKey, directory, VERIFY_FILE
        )
        authority: X25519PrivateKey | None = None
        if (directory / AUTHORITY_FILE).exists():
            priv: X25519PrivateKey = _typed(
                _load_private(directory, AUTHORITY_FILE),
                X25519PrivateKey,
                directory,
                AUTHORITY_FILE,
            )
            authority = priv
        kid = key_id(verify, secret)
        _check_info(directory, kid)
        return cls(secret=secret, verify_key=verify, authority_private=authority, key_id=kid)


def recorded_authority_key_id(directory: Path) -> str | None:
    """The authority key id ``keyset.json`` records (a side without the authority key reads it)."""
    path = Path(directory) / INFO_FILE
    try:
        value = json.loads(path.read_text()).get("authority_key_id") if path.exists() else None
    except (OSError, ValueError, AttributeError) as err:
        raise ConfigError(f"key set {directory}: {INFO_FILE} is unreadable") from err
    return str(value) if value else None


def default_dev_keys_dir() -> Path:
    """Where ``uunet deid`` keeps a dev key set when no ``--keys`` is given."""
    home = os.environ.get("UUNET_HOME")
    base = (
        Path(home)
        if home
        else Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "uunet"
    )
    return base / "dev-keys"
