"""How the manifest, its signature and the sealed originals ride inside the output MP4.

After the H.264 MP4 is written (faststart: ``ftyp``, ``moov``, ``mdat``), one top-level ISO-BMFF
``uuid`` box is appended at the end of the file. Players and browsers skip top-level boxes they do not
know, and appending after ``mdat`` moves no sample offsets, so the clip plays unchanged. The box::

    size u32 (1 -> u64 largesize follows) || "uuid" || USERTYPE (16 bytes, below)
    || MAGIC "UUNETMF1" || manifest_len u32 || manifest (canonical JSON, as signed)
    || signature (64, Ed25519) || video_sha256 (32) || sealed_len u64 || sealed payload

``video_sha256`` is the SHA-256 of every byte of the file outside this box, so an edit to the stream,
the container or the manifest breaks the signature (see ``shared.crypto.signing``); the sealed
payload (``shared.crypto.seal``) is covered by its own hash inside the signed message. A file without
the box is refused with "not a de-identified clip (no manifest)".
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.crypto.keys import signing_key_id
from shared.crypto.signing import EMPTY_SHA256, SIGNATURE_BYTES, sign, verify
from shared.domain.errors import BadInputError, TamperedError, WrongKeyError
from shared.pipeline.manifest import Manifest

USERTYPE = uuid.UUID("5e1f0b9a-7c1d-4b55-9a4e-75756e65746d").bytes
MAGIC = b"UUNETMF1"
NO_MANIFEST = "not a de-identified clip (no manifest)"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Embedded:
    """The box as found in a file: raw signed bytes and where the sealed payload lies."""

    path: Path
    box_offset: int
    box_size: int
    manifest_bytes: bytes
    signature: bytes
    video_sha256: bytes
    sealed_offset: int
    sealed_length: int

    @property
    def manifest(self) -> Manifest:
        """The parsed manifest (parse only after verifying)."""
        return Manifest.from_json(self.manifest_bytes)


def _sha256_file(path: Path, skip: tuple[int, int] | None = None) -> bytes:
    """SHA-256 of a file, leaving out the byte range ``skip = (offset, size)``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        pos = 0
        while chunk := fh.read(_BLOCK):
            if skip is not None:
                lo, hi = skip[0] - pos, skip[0] + skip[1] - pos
                chunk = chunk[: max(lo, 0)] + chunk[max(hi, 0) :] if lo < len(chunk) else chunk
            digest.update(chunk)
            pos += _BLOCK
    return digest.digest()


def _sha256_region(fh: BinaryIO, offset: int, length: int) -> bytes:
    digest = hashlib.sha256()
    fh.seek(offset)
    left = length
    while left > 0:
        chunk = fh.read(min(_BLOCK, left))
        if not chunk:
            raise TamperedError("sealed payload is truncated")
        digest.update(chunk)
        left -= len(chunk)
    return digest.digest()


def append_box(
    path: Path, manifest: bytes, signing_key: Ed25519PrivateKey, sealed: Path | None = None
) -> bytes:
    """Sign and append the manifest box to the finished MP4 at ``path``; returns the signature."""
    video_sha = _sha256_file(path)
    sealed_len = sealed.stat().st_size if sealed is not None else 0
    sealed_sha = EMPTY_SHA256
    if sealed is not None:
        with open(sealed, "rb") as fh:
            sealed_sha = _sha256_region(fh, 0, sealed_len)
    signature = sign(signing_key, manifest, video_sha, sealed_sha)
    body = MAGIC + struct.pack(">I", len(manifest)) + manifest + signature + video_sha
    body += struct.pack(">Q", sealed_len)
    total = 8 + 16 + len(body) + sealed_len
    if total < 2**32:
        head = struct.pack(">I", total) + b"uuid"
    else:
        head = struct.pack(">I", 1) + b"uuid" + struct.pack(">Q", total + 8)
    with open(path, "ab") as out:
        out.write(head + USERTYPE + body)
        if sealed is not None:
            with open(sealed, "rb") as src:
                shutil.copyfileobj(src, out, _BLOCK)
    return signature


def _walk(fh: BinaryIO, file_size: int) -> Iterator[tuple[int, int, bytes, int]]:
    """Top-level boxes as (offset, size, type, header length); ValueError if sizes don't add up."""
    pos = 0
    while pos < file_size:
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError("short box header")
        size, kind = struct.unpack(">I4s", head)
        hlen = 8
        if size == 1:
            size, hlen = struct.unpack(">Q", fh.read(8))[0], 16
        elif size == 0:
            size = file_size - pos
        if size < hlen or pos + size > file_size:
            raise ValueError("box overruns the file")
        yield pos, size, kind, hlen
        pos += size


def _contains_usertype(path: Path) -> bool:
    with open(path, "rb") as fh:
        tail = b""
        while chunk := fh.read(_BLOCK):
            if USERTYPE in tail + chunk:
                return True
            tail = chunk[-16:]
    return False


def _parse_box(fh: BinaryIO, path: Path, offset: int, size: int, hlen: int) -> Embedded:
    fh.seek(offset + hlen + 16)
    fixed = fh.read(12)
    if len(fixed) < 12 or fixed[:8] != MAGIC:
        raise TamperedError("the manifest box is damaged")
    (mlen,) = struct.unpack(">I", fixed[8:])
    rest = fh.read(mlen + SIGNATURE_BYTES + 32 + 8)
    if len(rest) != mlen + SIGNATURE_BYTES + 40:
        raise TamperedError("the manifest box is damaged")
    manifest, sig = rest[:mlen], rest[mlen : mlen + SIGNATURE_BYTES]
    video_sha = rest[mlen + SIGNATURE_BYTES : mlen + SIGNATURE_BYTES + 32]
    (sealed_len,) = struct.unpack(">Q", rest[-8:])
    sealed_offset = offset + hlen + 16 + 12 + len(rest)
    if sealed_offset + sealed_len != offset + size:
        raise TamperedError("the manifest box is damaged (lengths disagree)")
    return Embedded(path, offset, size, manifest, sig, video_sha, sealed_offset, sealed_len)


def read_box(path: Path) -> Embedded:
    """Find and parse the box (no verification); BadInputError if the file carries none."""
    emb = find_box(path)
    if emb is None:
        raise BadInputError(NO_MANIFEST)
    return emb


def find_box(path: Path) -> Embedded | None:
    """Like :func:`read_box`, but None for a file that carries no box at all (a re-encoded clip)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise BadInputError(f"{path.name}: empty or missing file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        try:
            for offset, box_size, kind, hlen in _walk(fh, size):
                if kind == b"uuid" and box_size >= hlen + 16:
                    fh.seek(offset + hlen)
                    if fh.read(16) == USERTYPE:
                        return _parse_box(fh, path, offset, box_size, hlen)
        except (ValueError, struct.error) as err:
            if _contains_usertype(path):
                raise TamperedError("the clip's container structure was modified") from err
    return None


def read_verified(path: Path, verify_key: Ed25519PublicKey, key_id: str | None = None) -> Embedded:
    """Find the box and check the signature; TamperedError on mismatch, WrongKeyError on key id."""
    return verify_box(read_box(path), verify_key, key_id)


def verify_box(emb: Embedded, verify_key: Ed25519PublicKey, key_id: str | None = None) -> Embedded:
    """Check a found box's signature (see :func:`read_verified`); returns it."""
    video_sha = _sha256_file(emb.path, (emb.box_offset, emb.box_size))
    with open(emb.path, "rb") as fh:
        sealed_sha = (
            _sha256_region(fh, emb.sealed_offset, emb.sealed_length)
            if emb.sealed_length
            else EMPTY_SHA256
        )
    try:
        if video_sha != emb.video_sha256:
            raise TamperedError("the video stream was modified (hash mismatch)")
        verify(verify_key, emb.signature, emb.manifest_bytes, video_sha, sealed_sha)
    except TamperedError:
        _raise_wrong_key_if_foreign(emb, key_id, verify_key)
        raise
    if key_id is not None and emb.manifest.key_id != key_id:
        raise WrongKeyError(f"clip was made with key set {emb.manifest.key_id}, not {key_id}")
    return emb


def _raise_wrong_key_if_foreign(
    emb: Embedded, key_id: str | None, verify_key: Ed25519PublicKey
) -> None:
    """A bad signature from another key set is a wrong key, not tampering (as far as we can tell)."""
    try:
        manifest = emb.manifest
    except BadInputError:
        return
    if key_id is not None and manifest.key_id != key_id:
        raise WrongKeyError(f"clip was made with key set {manifest.key_id}, not {key_id}")
    mine = signing_key_id(verify_key)
    if manifest.signer_id and manifest.signer_id != mine:
        raise WrongKeyError(f"clip was signed by key {manifest.signer_id}, not {mine}")


@contextmanager
def sealed_reader(emb: Embedded) -> Iterator[BinaryIO]:
    """A file object reading exactly the sealed payload of ``emb``."""
    with open(emb.path, "rb") as fh:
        fh.seek(emb.sealed_offset)
        yield _Window(fh, emb.sealed_length)  # type: ignore[misc]


class _Window(io.RawIOBase):
    """Read-only view of ``length`` bytes from the current position of ``fh``."""

    def __init__(self, fh: BinaryIO, length: int) -> None:
        self._fh, self._left = fh, length

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data


def write_sidecar(path: Path, emb: Embedded) -> None:
    """Write the manifest, signature and video hash as JSON (``--manifest-json``)."""
    doc = {
        "manifest": json.loads(emb.manifest_bytes),
        "manifest_canonical_sha256": hashlib.sha256(emb.manifest_bytes).hexdigest(),
        "signature_ed25519": emb.signature.hex(),
        "video_sha256": emb.video_sha256.hex(),
        "sealed_bytes": emb.sealed_length,
    }
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
