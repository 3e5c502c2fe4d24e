"""The worker process main: a ``JobRunner`` on a stream, Prometheus on ``METRICS_PORT``, clean stop.

Each service's composition root builds the queue, store and handler and hands them in here.
On SIGTERM the worker takes no new job; the job in flight gets ``drain_s`` to finish, then it is
handed back to the stream for another worker (not left to the visibility timeout), so the
orchestrator's grace period only has to cover ``drain_s`` plus the hand-back, not the job limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, start_http_server

from services.common.metrics import JobMetrics, refresh_forever
from services.common.serve import install_stop_signals
from shared.jobs.retention import ResultRetention
from shared.jobs.runner import Finalizer, Handler, JobRunner, RunnerOptions
from shared.ports import JobQueue, JobStore

log = logging.getLogger(__name__)


@dataclass
class WorkerProcess:
    """Everything one worker process runs."""

    queue: JobQueue
    store: JobStore
    handler: Handler
    options: RunnerOptions
    metrics: JobMetrics
    registry: CollectorRegistry
    on_terminal: Finalizer | None = None
    metrics_port: int | None = 9100  # None: no metrics endpoint (tests)
    metrics_host: str = "0.0.0.0"  # the service's HTTP_HOST: loopback under `uunet up`
    queue_refresh_s: float = 5.0
    drain_s: float = 20.0  # on stop: how long the job in flight may run on before it is handed back
    on_stop: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=tuple)
    retention: ResultRetention | None = None  # swept by the worker while it runs


def consumer_name(prefix: str) -> str:
    """A consumer name unique per process (host + pid), stable for the life of the process."""
    return f"{prefix}-{socket.gethostname()}-{os.getpid()}"


async def run_worker(proc: WorkerProcess, stop: asyncio.Event | None = None) -> None:
    """Consume until ``stop`` is set (default: SIGINT/SIGTERM); the job in flight gets
    ``proc.drain_s`` to finish, then goes back to the stream."""
    stop = stop or install_stop_signals()
    if proc.metrics_port is not None:
        start_http_server(proc.metrics_port, addr=proc.metrics_host, registry=proc.registry)
        log.info("metrics on %s:%d", proc.metrics_host, proc.metrics_port)
    runner = JobRunner(proc.queue, proc.store, proc.handler, proc.options, proc.on_terminal)
    refresher = asyncio.create_task(
        refresh_forever(lambda: proc.metrics.refresh_queue(proc.queue), proc.queue_refresh_s, stop)
    )
    sweeper = asyncio.create_task(proc.retention.run_forever(stop)) if proc.retention else None
    consume = asyncio.create_task(runner.run_forever())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({consume, stopped}, return_when=asyncio.FIRST_COMPLETED)
    runner.stop()
    stop.set()
    log.info("worker stopping")
    try:
        await asyncio.wait({consume}, timeout=proc.drain_s)
        if runner.hand_back():
            log.warning("job still running after %.0f s of drain: handed back", proc.drain_s)
        await consume  # returns after the current read/job; re-raises if the loop crashed
    finally:
        stopped.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        if sweeper is not None:
            await sweeper
        for hook in proc.on_stop:
            await hook()
