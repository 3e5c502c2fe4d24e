"""Custody records: what the private service restored, for whom, from what, into what; signed.

A record names the case, the token subject, the time, the SHA-256 of the public clip, of its signed
manifest and of the restored output, the mode and the tracks. Its signature is Ed25519 (the
private side's custody key, ``shared.crypto.keys.custody_key``) over ``"uunet-custody/v1\\0" ||``
the record's canonical JSON (sorted keys, compact, without ``signature``). The service returns it
beside the result and appends it to the hash-chained audit log as an entry with outcome
``custody`` whose ``detail`` is the signed JSON, so the chain covers it and ``uunet audit verify``
re-checks every one.

``integrity`` is ``"unverified"`` when the public clip had no signed manifest (a re-encoded copy
restored from the identity payload in its pixels): nothing then proves it is the clip as published.
A verified record leaves the field out of the signed bytes, so records made before it still verify.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.crypto.keys import signing_key_id
from shared.domain.errors import BadInputError, TamperedError
from shared.ports import AuditEntry

OUTCOME = "custody"
VERIFIED = "verified"
_DOMAIN = b"uunet-custody/v1\x00"


@dataclass(frozen=True)
class CustodyRecord:
    """One reconstruction, as signed (see module doc)."""

    job_id: str
    case_id: str
    subject: str  # the token's ``sub``: who asked
    at: float  # when the result was made (Unix time)
    public_clip_sha256: str  # the clip the authority sent
    manifest_sha256: str  # its signed manifest (canonical bytes)
    output_sha256: str  # what the service gave back
    mode: str  # learned | sealed | original
    tracks: str  # "1,4"; "" for every track
    lossless: bool
    custody_key_id: str  # shared.crypto.keys.signing_key_id of the signing key
    version: int = 1
    integrity: str = VERIFIED  # "unverified": the clip had no signed manifest (see module doc)

    def canonical_bytes(self) -> bytes:
        """The bytes the signature covers (after the domain prefix)."""
        doc = asdict(self)
        if self.integrity == VERIFIED:  # the form records had before the field existed
            del doc["integrity"]
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SignedCustody:
    """A record and its 64-byte signature (hex in JSON)."""

    record: CustodyRecord
    signature: bytes

    def to_json(self) -> str:
        """Compact JSON: the record's fields plus ``signature`` (hex)."""
        doc = asdict(self.record) | {"signature": self.signature.hex()}
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SignedCustody:
        """Parse; BadInputError when it is not a custody record."""
        try:
            doc: Any = json.loads(text)
            signature = bytes.fromhex(doc.pop("signature"))
            if len(signature) != 64:
                raise ValueError("signature length")
            return cls(CustodyRecord(**doc), signature)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise BadInputError(f"not a custody record ({type(err).__name__})") from None


class CustodySigner:
    """Signs custody records with the private side's custody key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.key_id = signing_key_id(key.public_key())

    def sign(self, record: CustodyRecord) -> SignedCustody:
        """Sign ``record`` (its ``custody_key_id`` must be this signer's)."""
        if record.custody_key_id != self.key_id:
            raise ValueError("custody_key_id does not name the signing key")
        return SignedCustody(record, self._key.sign(_DOMAIN + record.canonical_bytes()))


def verify_custody(key: Ed25519PublicKey, signed: SignedCustody) -> None:
    """TamperedError unless the signature matches ``key``."""
    if signed.record.custody_key_id != signing_key_id(key):
        raise TamperedError(
            f"custody record was signed by key {signed.record.custody_key_id[:16]}, "
            f"not {signing_key_id(key)}"
        )
    try:
        key.verify(signed.signature, _DOMAIN + signed.record.canonical_bytes())
    except InvalidSignature:
        raise TamperedError("custody record signature does not verify (record modified)") from None


def check_entries(entries: Iterable[AuditEntry], key: Ed25519PublicKey | None) -> tuple[int, str]:
    """Re-check the custody entries of an audit log: (how many, first problem or "").

    Each must parse, agree with its entry (case, actor, clip hash, tracks) and, when ``key`` is
    given, carry a valid signature by it.
    """
    count = 0
    for index, entry in enumerate(entries):
        if entry.outcome != OUTCOME:
            continue
        count += 1
        try:
            signed = SignedCustody.from_json(entry.detail)
            rec = signed.record
            mine = (entry.case_id, entry.actor, entry.clip_sha256, entry.tracks)
            if mine != (rec.case_id, rec.subject, rec.public_clip_sha256, rec.tracks):
                raise TamperedError("custody record disagrees with its audit entry")
            if key is not None:
                verify_custody(key, signed)
        except (BadInputError, TamperedError) as err:
            return count, f"custody entry at index {index} (seq {entry.seq}): {err}"
    return count, ""
