"""Run uvicorn (REST) and a ``grpc.aio`` server (gRPC) in one process and one event loop.

Signals are handled here rather than by uvicorn, so SIGTERM/SIGINT stop both servers gracefully:
REST stops accepting, gRPC health flips to NOT_SERVING, in-flight calls get ``grace_s`` to finish.
Prometheus metrics are served on their own port (``metrics_port``), never on the HTTP port that an
ingress routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

import grpc
import uvicorn
from fastapi import FastAPI
from grpc_health.v1 import _async as health_aio
from prometheus_client import CollectorRegistry, start_http_server

from services.common.grpc_server import mark_not_serving, mark_serving
from services.common.http_protocol import head_timeout_protocol
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen and how long to wait for in-flight calls on shutdown."""

    host: str = "0.0.0.0"
    http_port: int = 8080
    grpc_port: int = 50051
    grace_s: float = 5.0
    log_level: str = "info"
    head_timeout_s: float = 10.0  # a request head (line + headers) must arrive within this
    metrics_port: int | None = None  # None: no metrics endpoint (tests); 0: any free port
    trusted_proxies: str = "127.0.0.1"  # X-Forwarded-For is believed only from these

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> ServeOptions:
        """Listen where the service's settings say."""
        return cls(
            host=settings.http_host,
            http_port=settings.http_port,
            grpc_port=settings.grpc_port,
            grace_s=settings.shutdown_grace_s,
            log_level=settings.log_level,
            head_timeout_s=settings.http_head_timeout_s,
            metrics_port=settings.metrics_port,
            trusted_proxies=settings.trusted_proxies,
        )


@dataclass
class ApiProcess:
    """The two servers of one API process, plus hooks run around them."""

    app: FastAPI
    grpc_server: grpc.aio.Server
    health: health_aio.HealthServicer
    service_names: Sequence[str]
    options: ServeOptions
    on_stop: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=tuple)
    registry: CollectorRegistry | None = None  # what the metrics port serves


class _QuietUvicorn(uvicorn.Server):
    """uvicorn without its own signal handling (this module owns the signals)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    """Starts and stops one ``ApiProcess``; ``http_port``/``grpc_port`` are the bound ports."""

    def __init__(self, process: ApiProcess) -> None:
        self.process = process
        opts = process.options
        config = uvicorn.Config(
            process.app,
            host=opts.host,
            port=opts.http_port,
            log_level=opts.log_level.lower(),
            access_log=False,  # the metrics middleware counts requests; logs stay free of ids
            lifespan="off",
            http=head_timeout_protocol(opts.head_timeout_s),
            proxy_headers=True,
            forwarded_allow_ips=opts.trusted_proxies,
            timeout_graceful_shutdown=int(opts.grace_s) or None,
        )
        self._uvicorn = _QuietUvicorn(config)
        self._task: asyncio.Task[None] | None = None
        self._metrics: WSGIServer | None = None
        self.http_port = opts.http_port
        self.grpc_port = opts.grpc_port
        self.metrics_port = opts.metrics_port

    async def start(self) -> None:
        """Bind and start both servers; returns once both accept connections."""
        proc = self.process
        self.grpc_port = proc.grpc_server.add_insecure_port(
            f"{proc.options.host}:{proc.options.grpc_port}"
        )
        await proc.grpc_server.start()
        await mark_serving(proc.health, proc.service_names)
        self._task = asyncio.create_task(self._uvicorn.serve())
        while not self._uvicorn.started:
            if self._task.done():
                self._task.result()  # re-raise the bind error
                raise RuntimeError("uvicorn exited before it started")
            await asyncio.sleep(0.02)
        sockets = [s for srv in self._uvicorn.servers for s in (srv.sockets or ())]
        if sockets:
            self.http_port = int(sockets[0].getsockname()[1])
        if proc.options.metrics_port is not None and proc.registry is not None:
            self._metrics, _thread = start_http_server(
                proc.options.metrics_port, proc.options.host, proc.registry
            )
            self.metrics_port = int(self._metrics.server_port)
        log.info("REST on :%d, gRPC on :%d, metrics on :%s", self.http_port, self.grpc_port,
                 self.metrics_port)  # fmt: skip

    async def stop(self) -> None:
        """Stop accepting, let in-flight calls finish (up to ``grace_s``), run the stop hooks."""
        proc = self.process
        await mark_not_serving(proc.health)
        self._uvicorn.should_exit = True
        if self._task is not None:
            await self._task
        await proc.grpc_server.stop(proc.options.grace_s)
        if self._metrics is not None:
            self._metrics.shutdown()
            self._metrics.server_close()
        for hook in proc.on_stop:
            await hook()


async def serve_until_signalled(process: ApiProcess) -> None:
    """Run both servers until SIGINT or SIGTERM, then stop them gracefully."""
    stop = install_stop_signals()
    server = ApiServer(process)
    await server.start()
    await stop.wait()
    log.info("stopping")
    await server.stop()


def install_stop_signals() -> asyncio.Event:
    """An event set on SIGINT/SIGTERM (call from inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
