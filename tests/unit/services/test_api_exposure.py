"""What an API answers on its public HTTP port: no /metrics there (only on the metrics port), and
no OpenAPI docs unless dev or explicitly enabled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.private_reid import bootstrap as private_bootstrap
from services.private_reid.settings import PrivateSettings
from services.public_deid import bootstrap as public_bootstrap
from services.public_deid.settings import PublicSettings
from shared.audit.memory import InMemoryAuditLog
from tests.unit.services.private import fakes as private_fakes
from tests.unit.services.public import fakes as public_fakes

SECRETS = {"redis_url": "redis://x", "s3_access_key": "a", "s3_secret_key": "b"}
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")


def _public_app(tmp_path: Path, **overrides: Any) -> FastAPI:
    keys = tmp_path / "api_keys.json"
    keys.write_text(json.dumps({}))
    settings = PublicSettings(**SECRETS, api_keys_file=keys, **overrides)
    adapters = public_bootstrap.Adapters(
        public_fakes.FakeObjectStore(),
        public_fakes.FakeJobStore(),
        public_fakes.FakeQueue(),
        public_fakes.MemoryRateLimiter(1),
    )
    return public_bootstrap.build_app(settings, adapters, probe=None)


def _private_app(tmp_path: Path, **overrides: Any) -> FastAPI:
    issuer = private_fakes.Issuer()
    (tmp_path / "jwt.pem").write_bytes(issuer.public_pem)
    settings = PrivateSettings(
        **SECRETS,
        audit_key="k" * 32,
        jwt_issuer=private_fakes.ISSUER,
        jwt_audience=private_fakes.AUDIENCE,
        jwt_public_key_file=tmp_path / "jwt.pem",
        **overrides,
    )
    adapters = private_bootstrap.Adapters(
        private_fakes.FakeObjectStore(),
        private_fakes.FakeJobStore(),
        private_fakes.FakeQueue(),
        InMemoryAuditLog(),
        public_fakes.MemoryRateLimiter(0),
    )
    return private_bootstrap.build_api(settings, adapters, lambda path: object()).app


async def _status(app: FastAPI, path: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return (await client.get(path)).status_code


BUILDERS = {"public": _public_app, "private": _private_app}


@pytest.mark.parametrize("side", sorted(BUILDERS))
async def test_production_api_serves_neither_docs_nor_metrics_on_its_http_port(
    tmp_path: Path, side: str
) -> None:
    app = BUILDERS[side](tmp_path)
    for path in (*DOC_PATHS, "/metrics"):
        assert await _status(app, path) == 404, path
    assert await _status(app, "/healthz") == 200


@pytest.mark.parametrize("side", sorted(BUILDERS))
async def test_docs_can_be_turned_on_and_are_on_in_dev(tmp_path: Path, side: str) -> None:
    for overrides in ({"api_docs": True}, {"dev": True}):
        app = BUILDERS[side](tmp_path, **overrides)
        for path in DOC_PATHS:
            assert await _status(app, path) == 200, (overrides, path)
        assert await _status(app, "/metrics") == 404
