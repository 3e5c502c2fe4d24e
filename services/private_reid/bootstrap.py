"""Composition root of the private service: settings + adapters -> the API process or the worker.

Nothing connects at import time. Tests hand in ``Adapters`` made of fakes (unit) or of real Redis
and S3 test servers (integration), and a fake or the real clip verifier / reidentify function.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from prometheus_client import CollectorRegistry

from services.common.grpc_metrics import MetricsInterceptor
from services.common.grpc_server import build_grpc_server
from services.common.http import ReadinessCheck
from services.common.infra import build_infra, prepare_bucket, s3_config, wait_for_dependency
from services.common.metrics import GrpcMetrics, JobMetrics
from services.common.ratelimit import RateLimiter, RedisRateLimiter
from services.common.serve import ApiProcess, ServeOptions
from services.common.uploads import UploadSlots
from services.common.worker import WorkerProcess, consumer_name
from services.private_reid import grpc_api
from services.private_reid.app import METRICS_PREFIX, build_app
from services.private_reid.auth import AuthConfig, TokenVerifier
from services.private_reid.desk import ClipVerifier, Desk, DeskMetrics
from services.private_reid.refusals import RefusalAggregator
from services.private_reid.rest import RestOptions
from services.private_reid.settings import PrivateSettings
from services.private_reid.worker import HandlerOptions, Reidentify, ReidHandler
from shared.adapters.redis_audit import RedisAuditLog
from shared.adapters.s3_anchor import S3AnchorStore
from shared.audit.anchor import AuditAnchorer
from shared.audit.custody import CustodySigner
from shared.domain.errors import ConfigError, UUNetError
from shared.domain.jobs import JobStatus
from shared.jobs.retention import ResultRetention
from shared.jobs.runner import RunnerOptions
from shared.pipeline.api import Limits, Progress, ReidOptions, ReidReport
from shared.ports import AuditLog, ExpiryIndex, JobQueue, JobStore, ObjectStore

if TYPE_CHECKING:
    from shared.model.inference import UUNetEngine

log = logging.getLogger(__name__)
Hook = Callable[[], Awaitable[None]]


@dataclass
class Adapters:
    """The ports one process uses, plus start/stop hooks and readiness checks."""

    objects: ObjectStore
    jobs: JobStore
    queue: JobQueue
    audit: AuditLog
    limiter: RateLimiter
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    expiries: ExpiryIndex | None = None  # when reconstructions are deleted (None: never)
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()

    async def start(self) -> None:
        """Run the start hooks (bucket, lifecycle rule, consumer group); ConfigError if unreachable."""
        try:
            for hook in self.on_start:
                await hook()
        except UUNetError:
            raise
        except Exception as err:  # redis/minio/urllib3 each raise their own connection errors
            reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
            raise ConfigError(f"cannot prepare Redis/S3 at start: {reason}") from err


def real_adapters(settings: PrivateSettings, anchor: bool = False) -> Adapters:
    """Redis Streams queue, Redis job store and MACed audit log, S3 (bucket + raw/ expiry rule);
    with ``anchor`` (the API) also the task that anchors the audit head in its locked bucket."""
    infra = build_infra(settings, key_prefix=settings.job_prefix)
    audit = RedisAuditLog(infra.redis, settings.audit_prefix, key=audit_key(settings))

    async def prepare() -> None:
        await prepare_bucket(settings, infra.objects)
        await wait_for_dependency("Redis", infra.queue.ensure_group)

    on_start: list[Hook] = [prepare]
    on_stop: list[Hook] = [infra.close]
    if anchor and settings.audit_anchor_bucket:
        store = anchor_store(settings)
        anchorer = AuditAnchorer(audit, store, settings.audit_anchor_interval_s)
        on_start += [store.ensure, anchorer.start]
        on_stop.insert(0, anchorer.stop)
    elif anchor:
        log.warning("audit anchoring is off (dev): a truncated audit log goes unnoticed")
    return Adapters(
        objects=infra.objects,
        jobs=infra.jobs,
        queue=infra.queue,
        audit=audit,
        limiter=RedisRateLimiter(infra.redis, settings.rate_limit_per_minute, "uunet:reid:rate:"),
        readiness=infra.readiness(),
        expiries=infra.expiries,
        on_start=on_start,
        on_stop=on_stop,
    )


def audit_key(settings: PrivateSettings) -> bytes:
    """The key that MACs audit entries (ConfigError when shorter than 32 bytes)."""
    from shared.audit.chain import check_key

    try:
        return check_key(settings.secret("audit_key").encode())
    except UUNetError as err:
        raise ConfigError(f"UUNET_PRIVATE_AUDIT_KEY: {err}") from None


def anchor_store(settings: PrivateSettings) -> S3AnchorStore:
    """The object-locked bucket that keeps the audit log's anchored heads."""
    config = dataclasses.replace(s3_config(settings), bucket=settings.audit_anchor_bucket)
    return S3AnchorStore(config, settings.audit_anchor_retention_days, settings.audit_prefix)


def token_verifier(settings: PrivateSettings) -> TokenVerifier:
    """The verifier from JWT_PUBLIC_KEY_FILE or JWKS_URL (ConfigError if neither or unreadable)."""
    pem: bytes | None = None
    if settings.jwt_public_key_file is not None:
        try:
            pem = Path(settings.jwt_public_key_file).read_bytes()
        except OSError as err:
            raise ConfigError(f"cannot read JWT public key file: {err.strerror}") from None
    return TokenVerifier(
        AuthConfig(
            issuer=settings.jwt_issuer or "",
            audience=settings.jwt_audience or "",
            public_key_pem=pem,
            jwks_url=settings.jwks_url,
            algorithms=settings.jwt_algorithms,
            leeway_s=settings.jwt_leeway_s,
            max_lifetime_s=settings.jwt_max_lifetime_s,
        )
    )


@dataclass(frozen=True)
class CheckKeys:
    """What the API checks a request with (``shared.pipeline.api.ReidKeys``): it never opens seals,
    so the authority key's id may come from ``keyset.json``."""

    verify_key: Ed25519PublicKey
    key_id: str
    authority_key_id: str | None


def clip_verifier(settings: PrivateSettings) -> ClipVerifier:
    """The pipeline's request check (signature, key set, seal kind, authority key, tracks), with
    the verify key and the ids keyset.json records: the API never holds the noise secret."""
    from shared.crypto.keys import load_verify_key, recorded_authority_key_id
    from shared.pipeline.api import check_reidentify

    directory = _keys_dir(settings)
    verify_key, key_id = load_verify_key(directory)
    check = CheckKeys(verify_key, key_id, recorded_authority_key_id(directory))
    return lambda path, options: check_reidentify(path, check, options)


def custody_signer(settings: PrivateSettings) -> CustodySigner:
    """The custody signer: its key derives from the authority key the worker already holds."""
    from shared.crypto.keys import PrivateSideKeys, custody_key

    keys = PrivateSideKeys.load(_keys_dir(settings))
    return CustodySigner(custody_key(keys.authority()))  # the worker holds the authority key


def build_desk(
    settings: PrivateSettings, adapters: Adapters, verify: ClipVerifier, registry: CollectorRegistry
) -> Desk:
    """The desk both front ends share."""
    _make_work_dir(settings)
    return Desk(
        verifier=token_verifier(settings),
        queue=adapters.queue,
        jobs=adapters.jobs,
        objects=adapters.objects,
        audit=adapters.audit,
        verify_clip=verify,
        metrics=DeskMetrics(registry, METRICS_PREFIX),
        limiter=adapters.limiter,
        refusals=RefusalAggregator(adapters.audit, settings.refusal_window_s),
        retention=retention(settings, adapters),
        delete_after_download=settings.delete_after_download,
    )


def retention(settings: PrivateSettings, adapters: Adapters) -> ResultRetention | None:
    """Reconstructions are deleted RESULT_TTL_S after the job is done (or after a download);
    each deletion is audited."""
    if adapters.expiries is None:
        return None
    audit = adapters.audit

    async def audited(job: JobStatus, why: str) -> None:
        await audit.append(
            actor="retention",
            case_id=job.extra.get("case_id", ""),
            clip_sha256=job.extra.get("clip_sha256", ""),
            tracks=job.extra.get("tracks", ""),
            outcome="deleted",
            detail=f"job {job.job_id} reconstruction deleted: {why}"[:300],
        )

    return ResultRetention(
        adapters.objects, adapters.jobs, adapters.expiries, settings.result_ttl_s, audited
    )


def build_api(settings: PrivateSettings, adapters: Adapters, verify: ClipVerifier) -> ApiProcess:
    """REST and gRPC sharing one desk."""
    registry = CollectorRegistry()
    desk = build_desk(settings, adapters, verify, registry)
    slots = UploadSlots(settings.max_concurrent_uploads)  # one budget for REST and gRPC
    rest = RestOptions(
        max_upload_bytes=settings.max_upload_bytes,
        work_dir=settings.work_dir,
        result_redirect=settings.result_redirect,
        presign_expiry_s=settings.presign_expiry_s,
        pace=settings.upload_pace,
        docs=settings.docs_enabled,
        slots=slots,
    )
    app = build_app(desk, rest, registry, adapters.readiness)
    servicer = grpc_api.ReidServicer(
        desk,
        grpc_api.GrpcOptions(
            settings.max_upload_bytes,
            settings.work_dir,
            watch_timeout_s=settings.job_timeout_s + 300,
            pace=settings.upload_pace,
            slots=slots,
        ),
    )
    names = [grpc_api.SERVICE_NAME]
    interceptor = MetricsInterceptor(GrpcMetrics(registry, METRICS_PREFIX))
    server, health = build_grpc_server([grpc_api.registration(servicer)], names, [interceptor])
    options = ServeOptions.from_settings(settings)
    on_stop = [desk.refusals.flush, *adapters.on_stop]  # the last window's summary, then close
    return ApiProcess(app, server, health, names, options, on_stop=on_stop, registry=registry)


def load_private_engine(settings: PrivateSettings) -> UUNetEngine:
    """The private module from the ENCRYPTED weights file (ConfigError/WrongKeyError/TamperedError)."""
    from shared.crypto.weights import decrypt_file, load_key_file
    from shared.model.checkpoint import part_from_bytes
    from shared.model.inference import UUNetEngine
    from shared.video.runtime import configure_cpu_threads

    configure_cpu_threads(settings.device)  # before yuface loads: torch threads starve the codec
    if settings.encrypted_weights is None:
        raise ConfigError("UUNET_PRIVATE_ENCRYPTED_WEIGHTS is required (see uunet weights encrypt)")
    key = load_key_file(settings.weights_key_file)
    plain = decrypt_file(Path(settings.encrypted_weights), key)
    config, part, state, meta = part_from_bytes(plain)
    del plain
    if part != "private":
        raise ConfigError(f"encrypted weights hold the {part} module, not the private one")
    return UUNetEngine.from_parts(config, None, state, device=settings.device, meta=meta)


def load_reidentify(settings: PrivateSettings) -> Reidentify:
    """The real pipeline bound to the key set and the decrypted private module (loaded once)."""
    from shared.crypto.keys import PrivateSideKeys
    from shared.pipeline.api import reidentify_clip

    keys = PrivateSideKeys.load(_keys_dir(settings))
    engine: UUNetEngine | None = None
    if settings.encrypted_weights is None:  # e.g. a donor model: it has no private module
        log.info("no private module configured: sealed restoration only")
    else:
        engine = load_private_engine(settings)
        log.info("private module %s %s on %s", engine.model_id, engine.model_version,
                 settings.device)  # fmt: skip

    def run(src: Path, dst: Path, options: ReidOptions, progress: Progress) -> ReidReport:
        return reidentify_clip(src, dst, keys, engine, options, progress)

    return run


def build_worker(
    settings: PrivateSettings,
    adapters: Adapters,
    reidentify: Reidentify,
    metrics_port: int | None,
    custody: CustodySigner | None = None,
) -> WorkerProcess:
    """A JobRunner on ``uunet:reid:jobs`` / ``reid-workers`` with the reconstruction handler."""
    _make_work_dir(settings)
    custody = custody or custody_signer(settings)
    registry = CollectorRegistry()
    metrics = JobMetrics(registry, METRICS_PREFIX)
    kept = retention(settings, adapters)
    handler = ReidHandler(
        objects=adapters.objects,
        jobs=adapters.jobs,
        audit=adapters.audit,
        reidentify=reidentify,
        metrics=metrics,
        options=HandlerOptions(
            device=settings.device,
            limits=Limits(max_bytes=settings.max_upload_bytes),
            work_dir=settings.work_dir,
        ),
        retention=kept,
        custody=custody,
    )
    options = RunnerOptions(
        consumer=consumer_name("reid"),
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
        retention=kept,
    )


def _keys_dir(settings: PrivateSettings) -> Path:
    if settings.keys_dir is None:
        raise ConfigError("UUNET_PRIVATE_KEYS_DIR is required (a key set from uunet keys init)")
    return Path(settings.keys_dir)


def _make_work_dir(settings: PrivateSettings) -> None:
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
