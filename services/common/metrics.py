"""Prometheus metrics: one registry per process, HTTP and job instruments, queue gauges refresher.

Each process builds its own ``CollectorRegistry`` so tests can build many apps without clashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.ports import JobQueue

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)


class HttpMetrics:
    """Request counts and latency by method, route template and status."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.requests = Counter(
            f"{prefix}_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            f"{prefix}_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )


class JobMetrics:
    """Jobs by outcome, job latency, frames per second, faces per frame, queue depth and lag."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.jobs = Counter(
            f"{prefix}_jobs_total", "Finished jobs by outcome", ["outcome"], registry=registry
        )
        self.latency = Histogram(
            f"{prefix}_job_seconds", "Job wall time", buckets=_JOB_BUCKETS, registry=registry
        )
        self.fps = Gauge(
            f"{prefix}_frames_per_second", "Frames per second of the last job", registry=registry
        )
        self.frames = Counter(f"{prefix}_frames_total", "Frames processed", registry=registry)
        self.faces_per_frame = Histogram(
            f"{prefix}_faces_per_frame",
            "Mean faces per frame of each job",
            buckets=(0, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21),
            registry=registry,
        )
        self.queue_depth = Gauge(
            f"{prefix}_queue_depth", "Entries in the stream", registry=registry
        )
        self.queue_lag = Gauge(
            f"{prefix}_queue_lag", "Entries not yet delivered to the group", registry=registry
        )
        self.queue_dead = Gauge(
            f"{prefix}_queue_dead_letters", "Entries in the dead-letter stream", registry=registry
        )

    def observe_job(self, outcome: str, seconds: float) -> None:
        """Count one finished job and its wall time."""
        self.jobs.labels(outcome=outcome).inc()
        self.latency.observe(seconds)

    def observe_frames(self, frames: int, faces: int, seconds: float) -> None:
        """Record a finished clip's throughput and face density."""
        self.frames.inc(frames)
        if seconds > 0:
            self.fps.set(frames / seconds)
        if frames > 0:
            self.faces_per_frame.observe(faces / frames)

    async def refresh_queue(self, queue: JobQueue) -> None:
        """Read depth, lag and dead letters from the queue once."""
        self.queue_depth.set(await queue.depth())
        self.queue_lag.set(await queue.lag())
        self.queue_dead.set(await queue.dead_count())


async def refresh_forever(
    refresh: Callable[[], Awaitable[None]], interval_s: float, stop: asyncio.Event
) -> None:
    """Call ``refresh`` every ``interval_s`` until ``stop`` is set; errors are only logged."""
    while not stop.is_set():
        try:
            await refresh()
        except Exception as err:  # a metrics refresh must never take a process down
            log.warning("metrics refresh failed: %s", type(err).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in the Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class HttpMetricsMiddleware:
    """Pure ASGI middleware (streams pass through untouched): requests per route template."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.metrics.requests.labels(method=method, route=path, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=path).observe(
                time.perf_counter() - start
            )


class GrpcMetrics:
    """gRPC calls by method and status code, and their latency."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.calls = Counter(
            f"{prefix}_grpc_calls_total", "gRPC calls", ["method", "code"], registry=registry
        )
        self.latency = Histogram(
            f"{prefix}_grpc_call_seconds",
            "gRPC call latency (streams: until the last message)",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, code: str, seconds: float) -> None:
        """Record one finished call."""
        self.calls.labels(method=method, code=code).inc()
        self.latency.labels(method=method).observe(seconds)
