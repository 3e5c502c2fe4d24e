"""FastAPI app factory: probes (``/healthz``, ``/readyz``), metrics middleware, error mapping.

``/metrics`` is not on the app: the API process serves it on its metrics port only (see
``services.common.serve``), so an ingress that routes the HTTP port never exposes it. The OpenAPI
docs are served only when the spec asks for them (dev, or API_DOCS=true).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from services.common.errors import install_error_handlers
from services.common.metrics import HttpMetrics, HttpMetricsMiddleware

log = logging.getLogger(__name__)

# A readiness check raises, or returns False, when its dependency is unreachable.
ReadinessCheck = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class AppSpec:
    """What a service's REST app is made of."""

    title: str
    version: str
    description: str
    routers: Sequence[APIRouter]
    registry: CollectorRegistry
    metrics_prefix: str
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    readiness_timeout_s: float = 2.0
    docs: bool = False  # /docs, /redoc, /openapi.json


def create_app(spec: AppSpec) -> FastAPI:
    """Build the app: the service's routers plus probes, metrics middleware and error handlers."""
    on = spec.docs
    app = FastAPI(
        title=spec.title,
        version=spec.version,
        description=spec.description,
        docs_url="/docs" if on else None,
        redoc_url="/redoc" if on else None,
        openapi_url="/openapi.json" if on else None,
    )
    for router in spec.routers:
        app.include_router(router)
    app.include_router(_probes(spec))
    install_error_handlers(app)
    app.add_middleware(
        HttpMetricsMiddleware, metrics=HttpMetrics(spec.registry, spec.metrics_prefix)
    )
    return app


class Ready(BaseModel):
    status: str


class NotReady(BaseModel):
    status: str
    failed: list[str] = Field(description="the checks that failed")


def _probes(spec: AppSpec) -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Every dependency (Redis, S3) is reachable",
        response_model=Ready,
        responses={503: {"model": NotReady, "description": "a dependency is unreachable"}},
    )
    async def readyz() -> JSONResponse:
        failed = await run_checks(spec.readiness, spec.readiness_timeout_s)
        if failed:
            return JSONResponse(status_code=503, content={"status": "not ready", "failed": failed})
        return JSONResponse(content={"status": "ready"})

    return router


async def run_checks(checks: Mapping[str, ReadinessCheck], timeout_s: float) -> list[str]:
    """Run the checks concurrently; return the names of those that failed or timed out."""
    names = list(checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(checks[n](), timeout=timeout_s) for n in names), return_exceptions=True
    )
    failed = [
        n for n, r in zip(names, results, strict=True) if isinstance(r, BaseException) or r is False
    ]
    for name in failed:
        log.warning("readiness check %s failed", name)
    return failed
