"""Session fixtures: a real redis-server and a real S3 server (SeaweedFS), on 127.0.0.1 free ports.

They start only when a test asks for them, once per test session, and are stopped at the end (also
on interrupt, through ``atexit``). Each test gets its own key prefix and its own bucket.
"""

from __future__ import annotations

import atexit
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from shared.adapters.s3_store import S3Config, S3ObjectStore
from shared.devstack.servers import RedisServer, S3Server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    atexit.register(server.stop)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's real redis-server."""
    return redis_server.url


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    atexit.register(server.stop)
    yield server
    server.stop()


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """An asyncio client of the session's redis-server, closed after the test."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def key_prefix() -> str:
    """A Redis key prefix of this test's own."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def s3_settings(s3_server: S3Server) -> S3Config:
    """Connection settings with a bucket name of this test's own (created by ``object_store``)."""
    return S3Config(
        endpoint=s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        bucket=f"t-{uuid.uuid4().hex[:16]}",
    )


@pytest_asyncio.fixture
async def object_store(s3_settings: S3Config) -> AsyncIterator[S3ObjectStore]:
    """An S3ObjectStore on this test's own fresh bucket."""
    store = S3ObjectStore(s3_settings)
    await store.ensure_bucket()
    yield store
