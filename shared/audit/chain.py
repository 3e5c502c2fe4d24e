"""Hash-chain rules of the audit log: canonical encoding, entry hashes and verification.

Each entry's hash is ``SHA-256(prev_hash || canonical(entry))`` where ``prev_hash`` is the hex hash
of the entry before it (``GENESIS_HASH`` for the first) and ``canonical`` is a sorted-key, compact
UTF-8 JSON of every field except ``entry_hash``. Sequence numbers start at 0 and grow by one, so an
edited, deleted or reordered entry breaks the chain at the first entry that no longer fits.
Stdlib only: any store (Redis, S3, a file) uses the same rules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import BadInputError
from shared.ports import AuditEntry

GENESIS_HASH = "0" * 64
_FIELDS = tuple(f.name for f in dataclasses.fields(AuditEntry))
_HASHED_FIELDS = tuple(name for name in _FIELDS if name != "entry_hash")


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
    """The bytes that are hashed: every field but ``entry_hash`` as sorted, compact JSON."""
    data = {name: getattr(entry, name) for name in _HASHED_FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 hex of ``prev_hash || canonical(entry)``."""
    digest = hashlib.sha256()
    digest.update(entry.prev_hash.encode("ascii"))
    digest.update(canonical(entry))
    return digest.hexdigest()


def next_entry(prev: AuditEntry | None, record: AuditRecord, at: float) -> AuditEntry:
    """The entry that follows ``prev`` (``None`` for the first) with its hash filled in."""
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
    return dataclasses.replace(draft, entry_hash=entry_hash(draft))


def _problem(entry: AuditEntry, index: int, prev: AuditEntry | None) -> str:
    """Why ``entry`` does not fit at ``index`` after ``prev``; empty when it does."""
    if entry.seq != index:
        return f"sequence number {entry.seq} where {index} was expected (entry deleted or moved)"
    expected_prev = GENESIS_HASH if prev is None else prev.entry_hash
    if entry.prev_hash != expected_prev:
        return "prev_hash does not match the entry before it (entry deleted, moved or inserted)"
    if entry.entry_hash != entry_hash(entry):
        return "entry_hash does not match its contents (entry edited)"
    return ""


def verify(
    entries: Iterable[AuditEntry], expected_head: tuple[int, str] | None = None
) -> ChainReport:
    """Check the whole chain; ``expected_head`` (count, last hash) also catches a cut-off tail."""
    prev: AuditEntry | None = None
    count = 0
    for index, entry in enumerate(entries):
        reason = _problem(entry, index, prev)
        if reason:
            return ChainReport(False, index, bad_index=index, bad_seq=entry.seq, reason=reason)
        prev, count = entry, index + 1
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


def to_json(entry: AuditEntry) -> str:
    """One entry as a JSON line (all fields, hash included)."""
    return json.dumps(dataclasses.asdict(entry), sort_keys=True, ensure_ascii=False)


def from_json(line: str) -> AuditEntry:
    """Parse one exported or stored entry; :class:`BadInputError` if it is not one."""
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as err:
        raise BadInputError(f"audit entry is not JSON: {err.msg}") from None
    if not isinstance(data, dict) or set(data) != set(_FIELDS):
        raise BadInputError(f"audit entry must have exactly the fields {', '.join(_FIELDS)}")
    try:
        return AuditEntry(
            seq=int(data["seq"]),
            at=float(data["at"]),
            **{k: str(data[k]) for k in _FIELDS if k not in ("seq", "at")},
        )
    except (TypeError, ValueError) as err:
        raise BadInputError(f"audit entry has a bad field: {err}") from None
