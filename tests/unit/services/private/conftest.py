"""A private-service app wired with in-memory fakes of the ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from services.private_reid.app import build_app
from services.private_reid.auth import AuthConfig, TokenVerifier
from services.private_reid.desk import Desk, DeskMetrics
from services.private_reid.refusals import RefusalAggregator
from services.private_reid.rest import RestOptions
from shared.audit.memory import InMemoryAuditLog
from shared.domain.errors import BadInputError, TamperedError, WrongKeyError
from shared.pipeline.api import ReidOptions
from tests.unit.services.private.fakes import (
    AUDIENCE,
    ISSUER,
    FakeJobStore,
    FakeObjectStore,
    FakeQueue,
    Issuer,
)
from tests.unit.services.public.fakes import MemoryRateLimiter

SIGNED_CLIP = b"SIGNED-CLIP" + b"\x00" * 2000
CLIENT_LIMIT = 50  # requests per minute per client address
UNSEALED_CLIP = b"SIGNED-UNSEALED" + b"\x00" * 100
FOREIGN_SEAL_CLIP = b"SIGNED-FOREIGN-SEAL" + b"\x00" * 100
TAMPERED_CLIP = b"TAMPERED-CLIP" + b"\x00" * 100


def fake_verify_clip(path: Path, options: ReidOptions) -> object:
    """Stands in for the pipeline's request check (the real one runs in integration tests)."""
    data = path.read_bytes()
    if data.startswith(b"SIGNED-UNSEALED") and (options.mode == "sealed" or options.original):
        raise BadInputError("this clip carries no sealed originals; use --mode learned")
    if data.startswith(b"SIGNED-FOREIGN-SEAL") and options.mode == "sealed":
        raise WrongKeyError("the seal was made for authority key aaaa, not this key set's bbbb")
    if data.startswith(b"SIGNED"):
        return object()
    if data.startswith(b"TAMPERED"):
        raise TamperedError("manifest signature does not verify")
    raise BadInputError("no signed manifest in this file")


@dataclass
class World:
    desk: Desk
    queue: FakeQueue
    jobs: FakeJobStore
    objects: FakeObjectStore
    audit: InMemoryAuditLog
    issuer: Issuer
    client: httpx.AsyncClient
    registry: CollectorRegistry
    other_client: httpx.AsyncClient  # the same app, reached from another address


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest_asyncio.fixture
async def world(issuer: Issuer) -> AsyncIterator[World]:
    registry = CollectorRegistry()
    verifier = TokenVerifier(AuthConfig(ISSUER, AUDIENCE, public_key_pem=issuer.public_pem))
    queue, jobs, objects, audit = FakeQueue(), FakeJobStore(), FakeObjectStore(), InMemoryAuditLog()
    limiter, refusals = MemoryRateLimiter(CLIENT_LIMIT), RefusalAggregator(audit)
    metrics = DeskMetrics(registry)
    desk = Desk(verifier, queue, jobs, objects, audit, fake_verify_clip, metrics, limiter, refusals)
    app = build_app(desk, RestOptions(max_upload_bytes=64 * 1024), registry)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    elsewhere = httpx.ASGITransport(app=app, client=("198.51.100.9", 5000))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://private.test") as client,
        httpx.AsyncClient(transport=elsewhere, base_url="http://private.test") as other,
    ):
        yield World(desk, queue, jobs, objects, audit, issuer, client, registry, other)
