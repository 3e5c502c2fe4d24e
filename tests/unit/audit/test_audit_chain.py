"""Hash-chain rules: a clean chain verifies; edits, deletions and reorderings name the first bad entry."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest

from shared.audit.chain import (
    GENESIS_HASH,
    AuditRecord,
    check_key,
    entry_hash,
    from_json,
    next_entry,
    to_json,
    verify,
)
from shared.audit.memory import InMemoryAuditLog
from shared.domain.errors import BadInputError
from shared.ports import AuditAnchor, AuditEntry


def _chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        record = AuditRecord(f"officer-{i}", "CASE-1", "ab" * 32, "1,4", "accepted", "")
        entries.append(next_entry(entries[-1] if entries else None, record, 1000.0 + i))
    return entries


def test_clean_chain_verifies_with_its_count() -> None:
    entries = _chain(5)
    report = verify(entries)
    assert report.ok and report.count == 5
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))


def test_empty_chain_is_ok() -> None:
    assert verify([]).ok


def test_edited_entry_is_named_as_first_bad() -> None:
    entries = _chain(5)
    entries[2] = dataclasses.replace(entries[2], case_id="CASE-OTHER")
    report = verify(entries)
    assert not report.ok
    assert report.bad_index == 2 and report.bad_seq == 2
    assert "edited" in report.reason


def test_edit_with_recomputed_hash_breaks_the_next_link() -> None:
    entries = _chain(5)
    forged = dataclasses.replace(entries[1], outcome="refused:forbidden")
    entries[1] = dataclasses.replace(forged, entry_hash=entry_hash(forged))
    report = verify(entries)
    assert not report.ok and report.bad_index == 2
    assert "prev_hash" in report.reason


def test_deleted_entry_is_detected_at_the_gap() -> None:
    entries = _chain(5)
    del entries[3]
    report = verify(entries)
    assert not report.ok and report.bad_index == 3 and report.bad_seq == 4


def test_reordered_entries_are_detected() -> None:
    entries = _chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    report = verify(entries)
    assert not report.ok and report.bad_index == 1 and report.bad_seq == 2


def test_cut_off_tail_is_detected_against_the_head() -> None:
    entries = _chain(4)
    head = (4, entries[-1].entry_hash)
    assert verify(entries, expected_head=head).ok
    report = verify(entries[:3], expected_head=head)
    assert not report.ok and "removed from the end" in report.reason


def test_json_round_trip_keeps_the_hash_valid() -> None:
    entries = [from_json(to_json(e)) for e in _chain(3)]
    assert verify(entries).ok


def test_from_json_refuses_missing_fields() -> None:
    with pytest.raises(BadInputError):
        from_json('{"seq": 0}')
    with pytest.raises(BadInputError):
        from_json("not json")


async def test_memory_log_keeps_one_chain_under_concurrent_appends() -> None:
    import asyncio

    log = InMemoryAuditLog()
    await asyncio.gather(
        *(
            log.append(
                actor=f"a{i}", case_id="C", clip_sha256="", tracks="", outcome="ok", detail=""
            )
            for i in range(20)
        )
    )
    entries = [e async for e in log.entries()]
    assert len(entries) == 20 and verify(entries).ok


def test_consistent_rewrite_is_caught_only_by_an_outside_head() -> None:
    genuine = _chain(3)
    head = (3, genuine[-1].entry_hash)
    rewritten: list[AuditEntry] = []
    for e in genuine:
        record = AuditRecord("someone-else", e.case_id, e.clip_sha256, e.tracks, e.outcome, "")
        rewritten.append(next_entry(rewritten[-1] if rewritten else None, record, e.at))
    assert verify(rewritten).ok  # a chain alone cannot tell
    report = verify(rewritten, expected_head=head)
    assert not report.ok and "rewritten" in report.reason


KEY = b"a-test-audit-key-of-32-bytes-min"


def _keyed_chain(n: int, key: bytes = KEY) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        record = AuditRecord(f"officer-{i}", "CASE-1", "", "", "accepted", "")
        entries.append(next_entry(entries[-1] if entries else None, record, 1000.0 + i, key))
    return entries


def test_a_consistent_rewrite_without_the_key_fails_its_macs() -> None:
    genuine = _keyed_chain(4)
    assert verify(genuine, key=KEY).ok
    rewritten: list[AuditEntry] = []
    for e in genuine[:1] + genuine[2:]:  # entry 1 deleted, the rest re-chained
        record = AuditRecord(e.actor, e.case_id, e.clip_sha256, e.tracks, e.outcome, e.detail)
        fresh = next_entry(rewritten[-1] if rewritten else None, record, e.at)
        rewritten.append(dataclasses.replace(fresh, mac=e.mac))
    assert verify(rewritten).ok  # the chain alone cannot tell
    report = verify(rewritten, key=KEY)
    assert not report.ok and report.bad_index == 1 and "does not verify" in report.reason
    report = verify(_keyed_chain(3, key=b"another-key-also-32-bytes-long!!"), key=KEY)
    assert not report.ok and report.bad_index == 0


def test_an_entry_without_a_mac_fails_when_a_key_is_given() -> None:
    report = verify(_chain(2), key=KEY)
    assert not report.ok and report.bad_index == 0 and "has no MAC" in report.reason


def test_anchors_catch_a_cut_off_tail_and_a_rewritten_prefix() -> None:
    entries = _keyed_chain(5)
    anchors = [AuditAnchor(0, GENESIS_HASH, 1.0), AuditAnchor(4, entries[3].entry_hash, 2.0)]
    assert verify(entries, key=KEY, anchors=anchors).ok
    report = verify(entries[:3], key=KEY, anchors=anchors)
    assert not report.ok and "anchor recorded 4" in report.reason
    other = _keyed_chain(5)  # the same log written again at other times: other hashes
    other = [dataclasses.replace(e, at=e.at + 1) for e in other]
    report = verify(other, anchors=anchors)
    assert not report.ok


def test_entries_written_before_macs_still_parse() -> None:
    legacy = {k: v for k, v in dataclasses.asdict(_chain(1)[0]).items() if k != "mac"}
    assert from_json(json.dumps(legacy)).mac == ""


def test_a_short_audit_key_is_refused() -> None:
    with pytest.raises(BadInputError, match="at least 32 bytes"):
        check_key(b"short")
