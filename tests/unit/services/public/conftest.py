"""The public service wired with in-memory fakes of the ports (no Redis, no S3)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from services.public_deid import bootstrap
from services.public_deid.auth import hash_key
from services.public_deid.settings import PublicSettings
from tests.unit.services.public.fakes import (
    FakeJobStore,
    FakeObjectStore,
    FakeQueue,
    MemoryRateLimiter,
)

KEY_A = "uuk_vendor-a-test-key"
KEY_B = "uuk_vendor-b-test-key"


@dataclass
class Wired:
    """The fakes behind one app, for assertions."""

    settings: PublicSettings
    adapters: bootstrap.Adapters
    objects: FakeObjectStore
    jobs: FakeJobStore
    queue: FakeQueue
    limiter: MemoryRateLimiter


@pytest.fixture
def wired(tmp_path: Path) -> Wired:
    keys_file = tmp_path / "api_keys.json"
    keys_file.write_text(json.dumps({"vendor-a": hash_key(KEY_A), "vendor-b": hash_key(KEY_B)}))
    settings = PublicSettings(
        dev=True,
        api_keys_file=keys_file,
        max_upload_mb=1,
        rate_limit_per_minute=3,
        work_dir=tmp_path / "work",
    )
    objects, jobs, queue = FakeObjectStore(), FakeJobStore(), FakeQueue()
    limiter = MemoryRateLimiter(settings.rate_limit_per_minute)

    async def s3_down() -> bool:
        return False

    adapters = bootstrap.Adapters(objects, jobs, queue, limiter, readiness={"s3": s3_down})
    return Wired(settings, adapters, objects, jobs, queue, limiter)


@pytest_asyncio.fixture
async def client(wired: Wired) -> AsyncIterator[httpx.AsyncClient]:
    app = bootstrap.build_app(wired.settings, wired.adapters, probe=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
