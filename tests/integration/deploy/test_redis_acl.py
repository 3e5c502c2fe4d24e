"""The Redis ACL both deployments install (k8s/uunet/files/redis-start.sh), on a real redis-server
started through that very script: each process's user can run everything its real adapters do
(streams, consumer groups, hand-back transactions, job hashes, rate limits, the audit log's Lua
script), and nothing else: no admin commands, no keys outside the product's, KEDA read-only,
the unauthenticated default user PING only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError, ResponseError

from services.common.ratelimit import RedisRateLimiter
from shared.adapters.redis_audit import RedisAuditLog
from shared.adapters.redis_jobs import RedisJobStore
from shared.adapters.redis_streams import RedisStreamQueue
from shared.devstack.servers import (
    ManagedProcess,
    _tcp_ping_redis,
    find_binary,
    free_port,
    spawn,
    wait_until,
)
from shared.domain.jobs import JobStatus
from tests.integration.deploy.tools import CHART

pytestmark = pytest.mark.integration
SCRIPT = CHART / "files" / "redis-start.sh"
PASSWORDS = {"api": "api-pw-1", "worker": "worker-pw-2", "keda": "keda-pw-3", "admin": "adm-pw-4"}
DENIED = (NoPermissionError, ResponseError)


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """redis-server started by the deployment script; passwords as URL files (compose) for api
    and worker, as env (the chart) for keda and admin."""
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    root = tmp_path_factory.mktemp("redis-acl")
    port = free_port()
    env = dict(os.environ, REDIS_USERS="api worker keda admin", REDIS_ACL_FILE=str(root / "acl"))
    for user in ("api", "worker"):
        url_file = root / f"redis_url_{user}"
        url_file.write_text(f"redis://{user}:{PASSWORDS[user]}@redis:6379/0\n")
        env[f"REDIS_URL_FILE_{user.upper()}"] = str(url_file)
    env |= {"REDIS_PASSWORD_KEDA": PASSWORDS["keda"], "REDIS_PASSWORD_ADMIN": PASSWORDS["admin"]}
    env["PATH"] = f"{Path(find_binary('redis-server')).parent}:{env['PATH']}"
    argv = ["sh", str(SCRIPT), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(root)]
    proc: ManagedProcess = spawn(f"redis-acl-{port}", argv, root, env)
    try:
        wait_until(lambda: _tcp_ping_redis(port), "redis-server (ACL)", proc)
        assert (
            "#" in (root / "acl").read_text() and PASSWORDS["api"] not in (root / "acl").read_text()
        )
        yield port
    finally:
        proc.stop()


def _client(port: int, user: str | None) -> Redis:
    auth = f"{user}:{PASSWORDS[user]}@" if user else ""
    return Redis.from_url(f"redis://{auth}127.0.0.1:{port}/0")


@pytest_asyncio.fixture
async def clients(acl_redis: int) -> AsyncIterator[dict[str, Redis]]:
    made = {u: _client(acl_redis, u) for u in PASSWORDS} | {"anonymous": _client(acl_redis, None)}
    yield made
    for client in made.values():
        await client.aclose()


async def test_worker_and_api_run_their_real_adapters(clients: dict[str, Redis]) -> None:
    api, worker = clients["api"], clients["worker"]
    stream = "uunet:deid:jobs"
    api_queue, worker_queue = (RedisStreamQueue(c, stream, "deid-workers") for c in (api, worker))
    await api_queue.ensure_group()
    await RedisJobStore(api).create(JobStatus(job_id="j1"))
    await api_queue.enqueue({"job_id": "j1"})
    await RedisRateLimiter(api, 10).hit("vendor-a")

    (message,) = await worker_queue.read("w1", 1, 50)
    await worker_queue.touch("w1", message.msg_id)
    await RedisJobStore(worker).update("j1", progress=0.5)
    await worker_queue.release(message, {"attempt": "1"})  # MULTI/EXEC
    (again,) = await worker_queue.read("w2", 1, 50)
    assert await worker_queue.reclaim("w2", 60_000) == []
    assert await worker_queue.pending() == 1 and await worker_queue.lag() == 0
    await worker_queue.dead_letter(again, "test")
    assert await worker_queue.dead_count() == 1

    for client in (api, worker):  # the private side's audit log runs a Lua script
        audit = RedisAuditLog(client)
        await audit.append(
            actor="a", case_id="c", clip_sha256="", tracks="", outcome="ok", detail=""
        )
    assert [e.seq async for e in RedisAuditLog(api).entries()] == [0, 1]


@pytest.mark.parametrize("user", ["api", "worker"])
async def test_services_cannot_administer_or_leave_the_product_keys(
    clients: dict[str, Redis], user: str
) -> None:
    client = clients[user]
    for command in (("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("ACL", "LIST")):
        with pytest.raises(DENIED):
            await client.execute_command(*command)
    with pytest.raises(DENIED):
        await client.set("other:key", "x")
    with pytest.raises(DENIED):
        await client.execute_command("SHUTDOWN", "NOSAVE")


async def test_keda_reads_stream_and_group_sizes_only(clients: dict[str, Redis]) -> None:
    stream = "uunet:reid:jobs"
    await RedisStreamQueue(clients["api"], stream, "reid-workers").ensure_group()
    keda = clients["keda"]
    assert await keda.xlen(stream) == 0
    assert [g["name"] for g in await keda.xinfo_groups(stream)] == [b"reid-workers"]
    assert (await keda.xpending(stream, "reid-workers"))["pending"] == 0
    for call in (keda.xadd(stream, {"job_id": "x"}), keda.get("uunet:job:x")):
        with pytest.raises(DENIED):
            await call


async def test_default_user_only_pings_and_admin_may_operate(clients: dict[str, Redis]) -> None:
    anonymous, admin = clients["anonymous"], clients["admin"]
    assert await anonymous.ping() is True
    with pytest.raises(DENIED):
        await anonymous.get("uunet:job:j1")
    assert await admin.config_get("appendonly")
    assert isinstance(await admin.acl_list(), list)
