"""Whoever can write to Redis cannot rewrite or shorten the audit log unnoticed: entries carry MACs
under a key Redis never sees, and the head is anchored in an object-locked bucket that
``uunet audit verify --env-file`` checks (real Redis, real S3 with object lock)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from minio.error import S3Error
from redis.asyncio import Redis

from shared.adapters.redis_audit import RedisAuditLog
from shared.adapters.s3_anchor import S3AnchorStore
from shared.adapters.s3_store import S3Config
from shared.audit.anchor import AuditAnchorer
from shared.audit.chain import AuditRecord, from_json, next_entry, to_json
from shared.devstack.servers import S3Server
from shared.domain.errors import ConfigError
from shared.ports import AuditEntry
from uunet_cli.main import main as uunet

pytestmark = pytest.mark.integration
AUDIT_KEY = "k" * 64


@dataclass
class World:
    redis: Redis
    log: RedisAuditLog
    anchorer: AuditAnchorer
    store: S3AnchorStore
    env_file: Path


@pytest_asyncio.fixture
async def world(
    redis_url: str, s3_server: S3Server, key_prefix: str, tmp_path: Path
) -> AsyncIterator[World]:
    bucket = f"anchors-{uuid.uuid4().hex[:12]}"
    s3 = S3Config(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, bucket)
    store = S3AnchorStore(s3, retention_days=1, namespace=f"{key_prefix}audit")
    await store.ensure()
    redis = Redis.from_url(redis_url)
    log = RedisAuditLog(redis, f"{key_prefix}audit", key=AUDIT_KEY.encode())
    env = {
        "REDIS_URL": redis_url,
        "S3_ENDPOINT": s3_server.endpoint,
        "S3_ACCESS_KEY": s3_server.access_key,
        "S3_SECRET_KEY": s3_server.secret_key,
        "JWT_ISSUER": "https://idp.test",
        "JWT_AUDIENCE": "uunet-private",
        "AUDIT_PREFIX": f"{key_prefix}audit",
        "AUDIT_KEY": AUDIT_KEY,
        "AUDIT_ANCHOR_BUCKET": bucket,
    }
    env_file = tmp_path / "private.env"
    env_file.write_text("".join(f"UUNET_PRIVATE_{k}={v}\n" for k, v in env.items()))
    yield World(redis, log, AuditAnchorer(log, store, interval_s=60), store, env_file)
    await redis.aclose()


async def _fill(log: RedisAuditLog, n: int) -> None:
    for i in range(n):
        await log.append(
            actor="officer", case_id="C", clip_sha256="", tracks="", outcome=f"n{i}", detail=""
        )


async def _rewrite(world: World, drop: int | None = None, keep: int | None = None) -> None:
    """The attacker's edit, straight in Redis: drop one entry and re-chain the rest (hashes and
    head consistent again, old MACs copied over), or cut the log after ``keep`` entries."""
    raw = [r.decode() for r in await world.redis.lrange(world.log.list_key, 0, -1)]
    entries = [from_json(line) for line in raw][:keep]
    if drop is not None:
        del entries[drop]
        rechained: list[AuditEntry] = []
        for e in entries:
            record = AuditRecord(e.actor, e.case_id, e.clip_sha256, e.tracks, e.outcome, e.detail)
            fresh = next_entry(rechained[-1] if rechained else None, record, e.at)
            rechained.append(dataclasses.replace(fresh, mac=e.mac))
        entries = rechained
    await world.redis.delete(world.log.list_key)
    await world.redis.rpush(world.log.list_key, *[to_json(e) for e in entries])
    await world.redis.set(world.log.head_key, f"{len(entries)} {entries[-1].entry_hash}")


async def _verify(world: World, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = ["audit", "verify", "--env-file", str(world.env_file)]
    code = await asyncio.to_thread(uunet, argv)  # the CLI runs its own event loop
    return code, capsys.readouterr().out


async def test_clean_log_verifies_with_mac_and_anchors(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await _fill(world.log, 4)
    assert await world.anchorer.anchor_once() is not None
    assert await world.anchorer.anchor_once() is None  # head unchanged: nothing new to anchor
    await _fill(world.log, 2)
    code, out = await _verify(world, capsys)
    assert code == 0, out
    assert "OK: 6 entries" in out and "1 anchors match" in out


async def test_deleting_an_entry_and_rechaining_fails_verify(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await _fill(world.log, 5)
    await _rewrite(world, drop=2)  # hashes re-chained, the old MACs copied over
    code, out = await _verify(world, capsys)
    assert code == 1
    assert "index 2 (seq 2)" in out and "MAC" in out


async def test_cutting_anchored_entries_off_the_end_fails_verify(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await _fill(world.log, 5)
    await world.anchorer.anchor_once()
    await _rewrite(world, keep=3)  # every remaining entry and its MAC is genuine
    code, out = await _verify(world, capsys)
    assert code == 1 and "anchor recorded 5" in out


async def test_anchors_cannot_be_deleted_and_an_unlocked_bucket_is_refused(
    world: World, s3_server: S3Server
) -> None:
    await _fill(world.log, 1)
    await world.anchorer.anchor_once()
    (obj,) = list(
        world.store.client.list_objects(
            world.store.bucket, world.store.prefix, True, include_version=True
        )
    )
    with pytest.raises(S3Error, match="AccessDenied"):
        world.store.client.remove_object(world.store.bucket, str(obj.object_name), obj.version_id)
    world.store.client.remove_object(world.store.bucket, str(obj.object_name))  # a delete marker
    assert len(await world.store.anchors()) == 1  # the locked version is still read
    plain = f"plain-{uuid.uuid4().hex[:12]}"
    world.store.client.make_bucket(plain)
    s3 = S3Config(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, plain)
    with pytest.raises(ConfigError, match="no COMPLIANCE object lock"):
        await S3AnchorStore(s3, retention_days=1).ensure()
