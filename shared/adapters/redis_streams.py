"""JobQueue on Redis Streams with a consumer group (redis-py asyncio).

At-least-once: a message stays pending until acked. Each worker renews a short lease key while it
runs; when a worker dies (even by SIGKILL) its lease lapses within seconds and any worker takes its
messages over (XCLAIM). A worker that is alive but hung loses its message after the visibility
timeout (XAUTOCLAIM) instead.
Messages that keep failing go to ``<stream>:dead`` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.domain.jobs import QueueMessage

# A message whose owner's lease lapsed is taken over once it has been idle this long.
ORPHAN_GRACE_MS = 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStreamQueue:
    """One stream, one consumer group; ``maxlen`` trims acknowledged history approximately."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        maxlen: int = 100_000,
        orphan_grace_ms: int = ORPHAN_GRACE_MS,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.dead_stream = f"{stream}:dead"
        self.maxlen = maxlen
        self.orphan_grace_ms = orphan_grace_ms

    async def ensure_group(self) -> None:
        """Create the stream and group if missing (id 0: deliver entries added before the group)."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    async def enqueue(self, fields: Mapping[str, str]) -> str:
        entry: dict[Any, Any] = dict(fields)
        msg_id = await self.redis.xadd(self.stream, entry, maxlen=self.maxlen, approximate=True)
        return _text(msg_id)

    async def read(self, consumer: str, count: int = 1, block_ms: int = 2000) -> list[QueueMessage]:
        reply: Any = await self.redis.xreadgroup(
            self.group, consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        out: list[QueueMessage] = []
        for _stream, entries in reply or []:
            out += [QueueMessage(_text(i), self._fields(f), 1) for i, f in entries if f]
        return out

    async def ack(self, msg_id: str) -> None:
        await self.redis.xack(self.stream, self.group, msg_id)

    async def touch(self, consumer: str, msg_id: str) -> None:
        """Reset the idle time of a message we still work on, so nobody reclaims it."""
        await self.redis.xclaim(
            self.stream, self.group, consumer, min_idle_time=0, message_ids=[msg_id], justid=True
        )

    async def keep_alive(self, consumer: str, ttl_ms: int) -> None:
        """Renew ``consumer``'s lease; a worker killed outright stops renewing it."""
        await self.redis.set(self._lease(consumer), "1", px=ttl_ms)

    def _lease(self, consumer: str) -> str:
        return f"{self.stream}:alive:{consumer}"

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int = 10) -> list[QueueMessage]:
        """Take over messages idle longer than ``min_idle_ms`` (a hung owner), and those whose
        owner's lease lapsed (a dead owner) once idle ``orphan_grace_ms``; forget dead consumers."""
        stalled = await self._autoclaim(consumer, min_idle_ms, count)
        grace = min(min_idle_ms, self.orphan_grace_ms)
        orphans = await self._claim_orphans(consumer, grace, count - len(stalled))
        await self._forget_dead_consumers(consumer)
        return stalled + orphans

    async def _autoclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueMessage]:
        reply = await self.redis.xautoclaim(
            self.stream,
            self.group,
            consumer,
            min_idle_time=min_idle_ms,
            start_id="0-0",
            count=count,
        )
        entries = [(i, f) for i, f in reply[1] if f]
        if not entries:
            return []
        pending = await self.redis.xpending_range(
            self.stream, self.group, min=entries[0][0], max=entries[-1][0], count=len(entries) * 4
        )
        times = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        return [QueueMessage(_text(i), self._fields(f), times.get(_text(i), 2)) for i, f in entries]

    async def _dead_owners(self, owners: set[str]) -> set[str]:
        names = sorted(owners)
        alive = await self.redis.mget([self._lease(n) for n in names]) if names else []
        return {n for n, lease in zip(names, alive, strict=True) if lease is None}

    async def _claim_orphans(self, consumer: str, grace_ms: int, count: int) -> list[QueueMessage]:
        if count <= 0:
            return []
        pending = await self.redis.xpending_range(self.stream, self.group, "-", "+", 100)
        dead = await self._dead_owners({_text(p["consumer"]) for p in pending} - {consumer})
        picked = [
            p
            for p in pending
            if _text(p["consumer"]) in dead and int(p["time_since_delivered"]) >= grace_ms
        ][:count]
        if not picked:
            return []
        times = {_text(p["message_id"]): int(p["times_delivered"]) + 1 for p in picked}
        # min_idle_time makes the claim lose to anyone who touched the message meanwhile.
        claimed: Any = await self.redis.xclaim(
            self.stream, self.group, consumer, grace_ms, [p["message_id"] for p in picked]
        )
        return [QueueMessage(_text(i), self._fields(f), times[_text(i)]) for i, f in claimed if f]

    async def _forget_dead_consumers(self, consumer: str) -> None:
        """Drop consumers without a lease and without pending messages (each restart adds one)."""
        infos = await self.redis.xinfo_consumers(self.stream, self.group)
        idle = {_text(c["name"]) for c in infos if int(c["pending"]) == 0}
        for name in await self._dead_owners(idle - {consumer}):
            await self.redis.xgroup_delconsumer(self.stream, self.group, name)

    async def dead_letter(self, message: QueueMessage, reason: str) -> str:
        """Move a message to the dead-letter stream with its reason, then ack it."""
        fields: dict[Any, Any] = {
            **message.fields,
            "dead_reason": reason[:500],
            "orig_id": message.msg_id,
        }
        dead_id = await self.redis.xadd(
            self.dead_stream, fields, maxlen=self.maxlen, approximate=True
        )
        await self.ack(message.msg_id)
        return _text(dead_id)

    async def release(self, message: QueueMessage, changes: Mapping[str, str]) -> str:
        """Hand a message back at once: re-add it (fields updated by ``changes``) for the next
        reader and ack the old delivery, in one transaction, so it is neither lost nor doubled."""
        fields: dict[Any, Any] = {**message.fields, **changes}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
            pipe.xack(self.stream, self.group, message.msg_id)
            new_id, _ = await pipe.execute()
        return _text(new_id)

    async def depth(self) -> int:
        """Entries not yet acknowledged: waiting (lag) plus being worked on (pending)."""
        return await self.lag() + await self.pending()

    async def pending(self) -> int:
        info = await self.redis.xpending(self.stream, self.group)
        return int(info["pending"] if isinstance(info, dict) else info[0])

    async def lag(self) -> int:
        """Entries added to the stream that the group has not read yet (what KEDA scales on)."""
        for group in await self.redis.xinfo_groups(self.stream):
            if _text(group["name"]) == self.group:
                lag = group.get("lag")
                return int(lag) if lag is not None else await self.redis.xlen(self.stream)
        return 0

    async def dead_count(self) -> int:
        return int(await self.redis.xlen(self.dead_stream))

    @staticmethod
    def _fields(raw: Mapping[Any, Any]) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in raw.items()}
