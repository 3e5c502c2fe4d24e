"""The Redis audit log: concurrent appends from separate clients keep one chain; tampering in Redis
(an edit, a deletion, a cut-off tail) is detected."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from shared.adapters.redis_audit import RedisAuditLog
from shared.audit.chain import verify

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def clients(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    yield a, b
    await a.aclose()
    await b.aclose()


async def _fill(log: RedisAuditLog, who: str, n: int) -> None:
    for i in range(n):
        await log.append(
            actor=who, case_id="C", clip_sha256="", tracks="", outcome=f"n{i}", detail=""
        )


async def test_concurrent_appends_from_two_replicas_keep_one_chain(
    clients: tuple[Redis, Redis], key_prefix: str
) -> None:
    logs = [RedisAuditLog(c, f"{key_prefix}audit") for c in clients]
    await asyncio.gather(*(_fill(log, f"replica-{i}", 25) for i, log in enumerate(logs)))
    entries = [e async for e in logs[0].entries()]
    head = await logs[0].head()
    assert len(entries) == 50 and [e.seq for e in entries] == list(range(50))
    assert verify(entries, expected_head=head).ok


async def test_deleted_and_truncated_entries_are_detected(
    clients: tuple[Redis, Redis], key_prefix: str
) -> None:
    redis = clients[0]
    log = RedisAuditLog(redis, f"{key_prefix}audit")
    await _fill(log, "officer", 5)
    head = await log.head()
    assert head is not None and head[0] == 5
    await redis.rpop(log.list_key)  # cut the tail: the chain alone still links
    report = verify([e async for e in log.entries()], expected_head=head)
    assert not report.ok and "removed from the end" in report.reason
    raw = await redis.lindex(log.list_key, 2)
    assert isinstance(raw, bytes)
    await redis.lrem(log.list_key, 1, raw.decode())
    report = verify([e async for e in log.entries()])
    assert not report.ok and report.bad_index == 2 and report.bad_seq == 3


async def test_append_after_an_edit_still_appends_and_the_edit_stays_visible(
    clients: tuple[Redis, Redis], key_prefix: str
) -> None:
    redis = clients[0]
    log = RedisAuditLog(redis, f"{key_prefix}audit")
    await _fill(log, "officer", 3)
    first = await redis.lindex(log.list_key, 0)
    assert isinstance(first, bytes)
    edited = json.loads(first) | {"actor": "nobody"}
    await redis.lset(log.list_key, 0, json.dumps(edited))
    await _fill(log, "officer", 1)
    entries = [e async for e in log.entries()]
    assert len(entries) == 4
    report = verify(entries)
    assert not report.ok and report.bad_index == 0
