"""Composition root of the public service: settings + adapters -> the API process or the worker.

Nothing connects at import time. Tests hand in ``Adapters`` made of fakes (unit) or of real Redis
and S3 test servers (integration), and a fake or real ``Deidentify``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

import shared
from services.common.grpc_metrics import MetricsInterceptor
from services.common.grpc_server import build_grpc_server
from services.common.http import AppSpec, ReadinessCheck, create_app
from services.common.infra import build_infra, prepare_bucket, wait_for_dependency
from services.common.metrics import GrpcMetrics, JobMetrics
from services.common.ratelimit import RateLimiter, RedisRateLimiter
from services.common.serve import ApiProcess, ServeOptions
from services.common.uploads import UploadSlots
from services.common.worker import WorkerProcess, consumer_name
from services.public_deid import grpc_api
from services.public_deid.auth import ApiKeys, Gate
from services.public_deid.rest import ROUTERS
from services.public_deid.service import DeidJobs, Probe
from services.public_deid.settings import PublicSettings
from services.public_deid.worker import Deidentify, DeidHandler, HandlerOptions
from shared.domain.errors import ConfigError
from shared.jobs.retention import ResultRetention
from shared.jobs.runner import RunnerOptions
from shared.pipeline.api import DeidOptions, DeidReport, Limits, Progress
from shared.ports import ExpiryIndex, JobQueue, JobStore, ObjectStore

log = logging.getLogger(__name__)

METRICS_PREFIX = "uunet_public"
Hook = Callable[[], Awaitable[None]]


@dataclass
class Adapters:
    """The ports one process uses, plus start/stop hooks and readiness checks."""

    objects: ObjectStore
    jobs: JobStore
    queue: JobQueue
    limiter: RateLimiter
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    quota: RateLimiter | None = None  # jobs per key per day
    expiries: ExpiryIndex | None = None  # when results are deleted (None: never)
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()

    async def start(self) -> None:
        for hook in self.on_start:
            await hook()


def real_adapters(settings: PublicSettings) -> Adapters:
    """Redis Streams queue, Redis job store and rate limiter, S3 (bucket + raw/ expiry rule)."""
    infra = build_infra(settings)

    async def prepare() -> None:
        await prepare_bucket(settings, infra.objects)
        await wait_for_dependency("Redis", infra.queue.ensure_group)

    return Adapters(
        objects=infra.objects,
        jobs=infra.jobs,
        queue=infra.queue,
        limiter=RedisRateLimiter(infra.redis, settings.rate_limit_per_minute),
        quota=RedisRateLimiter(
            infra.redis,
            settings.jobs_per_day,
            prefix="uunet:quota:",
            window_s=86_400,
            wording=("daily quota", "jobs per day"),
        ),
        readiness=infra.readiness(),
        expiries=infra.expiries,
        on_start=(prepare,),
        on_stop=(infra.close,),
    )


def limits(settings: PublicSettings) -> Limits:
    """Pipeline limits, with the byte cap taken from MAX_UPLOAD_MB."""
    return Limits(max_bytes=settings.max_upload_bytes)


def default_probe(settings: PublicSettings) -> Probe | None:
    """The pipeline's fast probe (rejects non-video uploads at the API), unless disabled."""
    if not settings.probe_uploads:
        return None
    import shared.pipeline.probe  # noqa: F401 - import av now, not on the first upload
    from shared.pipeline.api import probe_clip

    return functools.partial(probe_clip, limits=limits(settings))


def api_keys(settings: PublicSettings) -> ApiKeys:
    """The vendor keys; outside the dev profile a keys file is required."""
    if settings.api_keys_file is None and not settings.dev:
        raise ConfigError("UUNET_PUBLIC_API_KEYS_FILE is required (create it with uunet apikey)")
    return ApiKeys(settings.api_keys_file)


def build_gate(settings: PublicSettings, adapters: Adapters) -> Gate:
    """API keys plus the submission rate limiter, shared by REST and gRPC."""
    return Gate(api_keys(settings), adapters.limiter, adapters.quota)


def build_app(
    settings: PublicSettings,
    adapters: Adapters,
    probe: Probe | None,
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    """The REST app, with the use cases and the gate on ``app.state``."""
    registry = registry or CollectorRegistry()
    spec = AppSpec(
        title="UU-Net public de-identification API",
        version=shared.__version__,
        description="Upload surveillance clips; get them back with every face replaced.",
        routers=ROUTERS,
        registry=registry,
        metrics_prefix=METRICS_PREFIX,
        readiness=adapters.readiness,
        docs=settings.docs_enabled,
    )
    app = create_app(spec)
    app.state.deid_jobs = deid_jobs(settings, adapters, probe)
    app.state.gate = build_gate(settings, adapters)
    return app


def deid_jobs(settings: PublicSettings, adapters: Adapters, probe: Probe | None) -> DeidJobs:
    """The use-case object both front ends share."""
    _make_work_dir(settings)
    return DeidJobs(
        objects=adapters.objects,
        jobs=adapters.jobs,
        queue=adapters.queue,
        max_bytes=settings.max_upload_bytes,
        probe=probe,
        presign_expiry_s=settings.presign_expiry_s,
        work_dir=settings.work_dir,
        pace=settings.upload_pace,
        slots=UploadSlots(settings.max_concurrent_uploads),
    )


def build_api(settings: PublicSettings, adapters: Adapters, probe: Probe | None) -> ApiProcess:
    """REST and gRPC sharing one ``DeidJobs`` and one ``Gate``."""
    registry = CollectorRegistry()  # one /metrics for REST and gRPC of this process
    app = build_app(settings, adapters, probe, registry)
    servicer = grpc_api.DeidServicer(
        app.state.deid_jobs, app.state.gate, watch_timeout_s=settings.job_timeout_s + 300
    )
    names = [grpc_api.SERVICE_NAME]
    interceptor = MetricsInterceptor(GrpcMetrics(registry, METRICS_PREFIX))
    server, health = build_grpc_server([grpc_api.registration(servicer)], names, [interceptor])
    options = ServeOptions.from_settings(settings)
    return ApiProcess(
        app, server, health, names, options, on_stop=adapters.on_stop, registry=registry
    )


def public_checkpoint(settings: PublicSettings) -> Path:
    """The checkpoint the worker may load: one without the private module (ConfigError otherwise).

    The public side must never hold the private module, so there is no fallback to the shipped
    two-module file: the image ships the output of ``uunet weights export --part public``.
    """
    from shared.model.checkpoint import load_checkpoint, split_state

    if settings.checkpoint is None:
        raise ConfigError(
            "UUNET_PUBLIC_CHECKPOINT is required: a checkpoint without the private module "
            "(uunet weights export --part public)"
        )
    _public, private = split_state(load_checkpoint(settings.checkpoint))
    if private:
        raise ConfigError(
            f"checkpoint {settings.checkpoint} carries the private module; the public worker "
            "loads only the public one (uunet weights export --part public)"
        )
    return Path(settings.checkpoint)


def load_deidentify(settings: PublicSettings) -> Deidentify:
    """The real pipeline bound to the key set and the public half of the model (loaded once)."""
    from shared.crypto.keys import PublicSideKeys
    from shared.pipeline.api import deidentify_clip
    from shared.pipeline.probe import refuse_deidentified
    from shared.surrogate.model import load_face_model
    from shared.video.runtime import configure_cpu_threads

    configure_cpu_threads(settings.device)  # before yuface loads: torch threads starve the codec
    if settings.keys_dir is None:
        raise ConfigError("UUNET_PUBLIC_KEYS_DIR is required (a key set from uunet keys init)")
    keys = PublicSideKeys.load(Path(settings.keys_dir))
    checkpoint = public_checkpoint(settings)
    engine = load_face_model(checkpoint, settings.device, "public", settings.donors)
    log.info("model %s %s on %s", engine.model_id, engine.model_version, settings.device)

    def run(src: Path, dst: Path, options: DeidOptions, progress: Progress) -> DeidReport:
        refuse_deidentified(src)  # also when the API's probe is switched off
        options = dataclasses.replace(options, payload=settings.payload)  # a deployment setting
        return deidentify_clip(src, dst, keys, engine, options, progress)

    return run


def build_worker(
    settings: PublicSettings, adapters: Adapters, deidentify: Deidentify, metrics_port: int | None
) -> WorkerProcess:
    """A JobRunner on ``uunet:deid:jobs`` / ``deid-workers`` with the de-identification handler."""
    _make_work_dir(settings)
    registry = CollectorRegistry()
    metrics = JobMetrics(registry, METRICS_PREFIX)
    retention = None
    if adapters.expiries is not None:
        retention = ResultRetention(
            adapters.objects, adapters.jobs, adapters.expiries, settings.result_ttl_s
        )
    handler = DeidHandler(
        adapters.objects,
        deidentify,
        metrics,
        HandlerOptions(device=settings.device, limits=limits(settings), work_dir=settings.work_dir),
        retention,
    )
    options = RunnerOptions(
        consumer=consumer_name("deid"),
        visibility_timeout_ms=int(settings.visibility_timeout_s * 1000),
        max_attempts=settings.max_retries,
        job_timeout_s=settings.job_timeout_s,
    )
    return WorkerProcess(
        queue=adapters.queue,
        store=adapters.jobs,
        handler=handler,
        options=options,
        metrics=metrics,
        registry=registry,
        on_terminal=handler.on_terminal,
        metrics_port=metrics_port,
        drain_s=settings.shutdown_drain_s,
        metrics_host=settings.http_host,
        on_stop=adapters.on_stop,
        retention=retention,
    )


def _make_work_dir(settings: PublicSettings) -> None:
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
