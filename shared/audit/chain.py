"""Hash-chain rules of the audit log: canonical encoding, entry hashes, MACs and verification.

Each entry's hash is ``SHA-256(prev_hash || canonical(entry))`` where ``prev_hash`` is the hex hash
of the entry before it (``GENESIS_HASH`` for the first) and ``canonical`` is a sorted-key, compact
UTF-8 JSON of every field except ``entry_hash`` and ``mac``. Sequence numbers start at 0 and grow by
one, so an edited, deleted or reordered entry breaks the chain at the first entry that no longer fits.

A hash chain alone can be recomputed by whoever can write the store, so each entry also carries
``mac = HMAC-SHA256(audit key, entry_hash)`` under a key the store never holds: deleting or editing
an entry and re-chaining the rest leaves MACs that do not verify. What a MAC cannot show (entries
cut off the end) the anchors show (``shared.audit.anchor``). Stdlib only: any store uses these rules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import BadInputError
from shared.ports import AuditAnchor, AuditEntry

GENESIS_HASH = "0" * 64
MIN_KEY_BYTES = 32
_FIELDS = tuple(f.name for f in dataclasses.fields(AuditEntry))
_REQUIRED_FIELDS = tuple(
    f.name for f in dataclasses.fields(AuditEntry) if f.default is dataclasses.MISSING
)
_HASHED_FIELDS = tuple(name for name in _FIELDS if name not in ("entry_hash", "mac"))


@dataclass(frozen=True)
class AuditRecord:
    """What a caller audits; the chain adds ``seq``, ``prev_hash`` and ``entry_hash``."""

    actor: str
    case_id: str = ""
    clip_sha256: str = ""
    tracks: str = ""
    outcome: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify`: ``ok`` and, when not, the first bad entry and why."""

    ok: bool
    count: int
    bad_index: int | None = None
    bad_seq: int | None = None
    reason: str = ""

    def describe(self) -> str:
        """One line for a CLI or a log."""
        if self.ok:
            return f"OK: {self.count} entries, chain intact"
        return f"first bad entry at index {self.bad_index} (seq {self.bad_seq}): {self.reason}"


def canonical(entry: AuditEntry) -> bytes:
    """The bytes that are hashed: every field but ``entry_hash`` and ``mac``, sorted compact JSON."""
    data = {name: getattr(entry, name) for name in _HASHED_FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 hex of ``prev_hash || canonical(entry)``."""
    digest = hashlib.sha256()
    digest.update(entry.prev_hash.encode("ascii"))
    digest.update(canonical(entry))
    return digest.hexdigest()


def entry_mac(entry_hash_hex: str, key: bytes) -> str:
    """HMAC-SHA256 hex of an entry hash under the audit key (the hash covers the whole chain)."""
    return hmac.new(
        key, b"uunet-audit-mac/1\0" + entry_hash_hex.encode("ascii"), "sha256"
    ).hexdigest()


def check_key(key: bytes) -> bytes:
    """The audit key, or BadInputError when it is too short to be a secret."""
    if len(key) < MIN_KEY_BYTES:
        raise BadInputError(f"the audit key must be at least {MIN_KEY_BYTES} bytes")
    return key


def next_entry(
    prev: AuditEntry | None, record: AuditRecord, at: float, key: bytes | None = None
) -> AuditEntry:
    """The entry that follows ``prev`` (``None`` for the first), hashed, and MACed under ``key``."""
    seq = 0 if prev is None else prev.seq + 1
    prev_hash = GENESIS_HASH if prev is None else prev.entry_hash
    draft = AuditEntry(
        seq=seq,
        at=float(at),
        actor=record.actor,
        case_id=record.case_id,
        clip_sha256=record.clip_sha256,
        tracks=record.tracks,
        outcome=record.outcome,
        detail=record.detail,
        prev_hash=prev_hash,
        entry_hash="",
    )
    digest = entry_hash(draft)
    return dataclasses.replace(draft, entry_hash=digest, mac=entry_mac(digest, key) if key else "")


def _problem(entry: AuditEntry, index: int, prev: AuditEntry | None, key: bytes | None) -> str:
    """Why ``entry`` does not fit at ``index`` after ``prev``; empty when it does."""
    if entry.seq != index:
        return f"sequence number {entry.seq} where {index} was expected (entry deleted or moved)"
    expected_prev = GENESIS_HASH if prev is None else prev.entry_hash
    if entry.prev_hash != expected_prev:
        return "prev_hash does not match the entry before it (entry deleted, moved or inserted)"
    if entry.entry_hash != entry_hash(entry):
        return "entry_hash does not match its contents (entry edited)"
    if key is not None and not hmac.compare_digest(entry.mac, entry_mac(entry.entry_hash, key)):
        what = "has no MAC" if not entry.mac else "has a MAC that does not verify"
        return f"entry {what} under the audit key (forged, or the log re-chained)"
    return ""


def verify(
    entries: Iterable[AuditEntry],
    expected_head: tuple[int, str] | None = None,
    key: bytes | None = None,
    anchors: Iterable[AuditAnchor] = (),
) -> ChainReport:
    """Check the chain, every MAC when ``key`` is given, then the tail against a recorded head
    (``expected_head``: count, last hash) and against the anchors kept outside the log."""
    prev: AuditEntry | None = None
    count = 0
    hashes: list[str] = []
    for index, entry in enumerate(entries):
        reason = _problem(entry, index, prev, key)
        if reason:
            return ChainReport(False, index, bad_index=index, bad_seq=entry.seq, reason=reason)
        prev, count = entry, index + 1
        hashes.append(entry.entry_hash)
    for anchor in sorted(anchors, key=lambda a: a.count):
        reason = _anchor_problem(hashes, anchor)
        if reason:
            index = min(count, anchor.count)
            return ChainReport(False, count, bad_index=index, bad_seq=index, reason=reason)
    if expected_head is not None:
        head_count, head_hash = expected_head
        last_hash = GENESIS_HASH if prev is None else prev.entry_hash
        if head_count != count:
            reason = f"log ends after {count} entries but the head records {head_count} " + (
                "(entries removed from the end)" if count < head_count else "(head is stale)"
            )
        elif head_hash != last_hash:
            reason = "last entry does not match the recorded head (log rewritten)"
        else:
            return ChainReport(True, count)
        index = min(count, head_count)
        return ChainReport(False, count, bad_index=index, bad_seq=index, reason=reason)
    return ChainReport(True, count)


def _anchor_problem(hashes: list[str], anchor: AuditAnchor) -> str:
    """Why the log does not hold the head an anchor recorded; empty when it does."""
    if anchor.count > len(hashes):
        return (
            f"log ends after {len(hashes)} entries but an anchor recorded {anchor.count} "
            "(entries removed from the end)"
        )
    recorded = GENESIS_HASH if anchor.count == 0 else hashes[anchor.count - 1]
    if recorded != anchor.head_hash:
        return f"entry {anchor.count - 1} differs from the anchored head (log rewritten)"
    return ""


def to_json(entry: AuditEntry) -> str:
    """One entry as a JSON line (all fields, hash included)."""
    return json.dumps(dataclasses.asdict(entry), sort_keys=True, ensure_ascii=False)


def from_json(line: str) -> AuditEntry:
    """Parse one exported or stored entry; :class:`BadInputError` if it is not one."""
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as err:
        raise BadInputError(f"audit entry is not JSON: {err.msg}") from None
    if not isinstance(data, dict) or not set(_REQUIRED_FIELDS) <= set(data) <= set(_FIELDS):
        raise BadInputError(f"audit entry must have the fields {', '.join(_FIELDS)}")
    try:
        return AuditEntry(
            seq=int(data["seq"]),
            at=float(data["at"]),
            **{k: str(data[k]) for k in _FIELDS if k not in ("seq", "at") and k in data},
        )
    except (TypeError, ValueError) as err:
        raise BadInputError(f"audit entry has a bad field: {err}") from None
