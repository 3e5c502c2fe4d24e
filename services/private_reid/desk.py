"""The private service's front desk: every request is authenticated, checked, audited, then queued.

Transport-free (REST and gRPC both call it). Order of checks on a submission: the client's rate
limit (429) -> token (401) -> scope and case (403/400) -> the clip's signature, and whether it can
serve the request (seal kind, authority key, tracks: 422) -> store, record, audit, enqueue. Every
refusal is audited and counted, and nothing is stored or queued for it; refusals of callers
without a valid token are aggregated (``refusals``). A finished job's signed custody record (made
by the worker) is handed out beside its result.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from services.common.errors import RateLimitedError, ResultGoneError
from services.common.ratelimit import RateLimiter
from services.private_reid.auth import (
    Forbidden,
    Principal,
    TokenRejected,
    TokenVerifier,
    authorize,
    check_token_scope,
)
from services.private_reid.refusals import RefusalAggregator
from shared.domain.errors import BadInputError, NotFoundError, TamperedError, WrongKeyError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.retention import ResultRetention
from shared.pipeline.api import ReidOptions
from shared.ports import AuditLog, JobQueue, JobStore, ObjectStore

log = logging.getLogger(__name__)

MODES = ("auto", "learned", "sealed")
# (clip, request) -> the plan (shared.pipeline.api.ReidPlan: ``verified`` False for a clip without
# a manifest, restored from its identity payload); raises TamperedError, WrongKeyError or
# BadInputError
ClipVerifier = Callable[[Path, ReidOptions], object]


class NotReady(BadInputError):
    """The job exists but has no result (yet, or ever): 409."""


@dataclass(frozen=True)
class SubmitRequest:
    """What the caller asks for besides the clip."""

    case_id: str
    tracks: str = ""  # "1,4"; empty: every track
    mode: str = "auto"
    lossless: bool = False  # restored clip without loss (sealed faces exact)
    original: bool = False  # the sealed original input file instead of a restored clip


class DeskMetrics:
    """Refused requests by reason and accepted submissions."""

    def __init__(self, registry: CollectorRegistry, prefix: str = "uunet_private") -> None:
        self.refused = Counter(
            f"{prefix}_refused_total", "Refused requests by reason", ["reason"], registry=registry
        )
        self.accepted = Counter(
            f"{prefix}_submissions_total", "Accepted reconstruction jobs", registry=registry
        )


@dataclass
class Desk:
    """Ports and checks the front ends share."""

    verifier: TokenVerifier
    queue: JobQueue
    jobs: JobStore
    objects: ObjectStore
    audit: AuditLog
    verify_clip: ClipVerifier
    metrics: DeskMetrics
    limiter: RateLimiter  # requests per client address, before anything else
    refusals: RefusalAggregator
    retention: ResultRetention | None = None
    delete_after_download: bool = False

    async def authenticate(
        self, authorization: str | None, what: str, client: str = "unknown"
    ) -> Principal:
        """The caller of ``authorization``, with scope and case binding checked; audits a refusal."""
        try:
            await self.limiter.hit(f"client:{client}")
        except RateLimitedError:
            self.metrics.refused.labels(reason="rate-limited").inc()
            await self.refusals.refuse("rate-limited", client, f"{what}: rate limited")
            raise
        try:
            if self.verifier.uses_network:
                principal = await asyncio.to_thread(self.verifier.authenticate, authorization)
            else:
                principal = self.verifier.authenticate(authorization)
        except TokenRejected as err:
            self.metrics.refused.labels(reason=err.code).inc()
            await self.refusals.refuse(err.code, client, f"{what}: {err}")
            raise
        try:
            check_token_scope(principal)
        except Forbidden as denied:
            await self.refuse(principal.subject, "", denied.code, f"{what}: {denied}")
            raise
        return principal

    async def submit(self, principal: Principal, request: SubmitRequest, clip: Path) -> str:
        """Check, store and queue one clip; returns the job id."""
        who = principal.subject
        digest = await asyncio.to_thread(_sha256_file, clip)
        case = await self._authorize(principal, request.case_id, "submit", digest)
        tracks = await self._checked(who, case, digest, lambda: parse_tracks(request.tracks))
        mode = await self._checked(who, case, digest, lambda: parse_mode(request.mode))
        options = ReidOptions(mode=mode, tracks=track_set(tracks), lossless=request.lossless,
                              original=request.original)  # fmt: skip
        try:
            plan = await asyncio.to_thread(self.verify_clip, clip, options)
        except (TamperedError, WrongKeyError, BadInputError) as err:
            code = {TamperedError: "tampered", WrongKeyError: "wrong-key"}.get(
                type(err), "bad-clip"
            )
            await self.refuse(who, case, code, f"submit: {err}", digest, tracks)
            raise
        verified = getattr(plan, "verified", True)  # False: no manifest, the payload restores it
        return await self._accept(principal, case, digest, options, clip, verified)

    async def status(self, principal: Principal, job_id: str) -> JobStatus:
        """The job, if this caller may see it (same scope and case rules as a submission)."""
        job, case = await self._visible(principal, job_id, "status")
        await self._record(principal.subject, case, job, "status")
        return job

    async def result_key(self, principal: Principal, job_id: str) -> str:
        """The object key of a finished job's video (audited as a disclosure)."""
        job = await self._finished(principal, job_id, "download")
        assert job.result_key is not None
        return job.result_key

    async def custody(self, principal: Principal, job_id: str) -> str:
        """A finished job's signed custody record (JSON, ``shared.audit.custody``)."""
        await self._finished(principal, job_id, "custody-record")
        try:
            return (await self.objects.get_bytes(custody_key_for(job_id))).decode()
        except NotFoundError:
            raise NotReady(f"job {job_id} has no custody record") from None

    async def downloaded(self, principal: Principal, job_id: str) -> None:
        """Called once a download has been sent in full: delete the reconstruction if so set."""
        if self.retention is not None and self.delete_after_download:
            await self.retention.delete_now(job_id, f"downloaded by {principal.subject}")

    # ---- internals
    async def _finished(self, principal: Principal, job_id: str, what: str) -> JobStatus:
        job, case = await self._visible(principal, job_id, what)
        gone = job.extra.get("result_deleted")
        if gone and what == "download":  # the custody record outlives the reconstruction
            await self.refuse(principal.subject, case, "gone", f"{what} {job_id}")
            raise ResultGoneError(f"the reconstruction of job {job_id} was deleted ({gone})")
        if job.state is not JobState.DONE or not (job.result_key or gone):
            await self.refuse(principal.subject, case, "not-ready", f"{what} {job_id}")
            raise NotReady(f"job {job_id} is {job.state.value}; no result to download")
        await self._record(principal.subject, case, job, what)
        return job

    async def _accept(
        self,
        principal: Principal,
        case: str,
        digest: str,
        options: ReidOptions,
        clip: Path,
        verified: bool = True,
    ) -> str:
        job_id = uuid.uuid4().hex
        upload_key = raw_key(job_id)
        tracks = ",".join(str(t) for t in sorted(options.tracks or ()))
        extra = {
            "case_id": case,
            "actor": principal.subject,
            "clip_sha256": digest,
            "tracks": tracks,
            "mode": options.mode,
            "lossless": "1" if options.lossless else "",
            "original": "1" if options.original else "",
            "upload_key": upload_key,
        }
        await self.objects.put_file(upload_key, clip, "video/mp4")
        try:
            await self.jobs.create(JobStatus(job_id=job_id, extra=extra))
            await self.audit.append(
                actor=principal.subject,
                case_id=case,
                clip_sha256=digest,
                tracks=tracks,
                outcome="accepted",
                detail=f"job {job_id} {describe_request(options)}"
                + ("" if verified else " UNVERIFIED: the clip has no signed manifest"),
            )
            await self.queue.enqueue({"job_id": job_id})
        except Exception:
            await self.objects.delete(upload_key)
            raise
        self.metrics.accepted.inc()
        log.info("accepted reconstruction job %s", job_id)
        return job_id

    async def _visible(self, principal: Principal, job_id: str, what: str) -> tuple[JobStatus, str]:
        """The job if this token may see it; another case's job is "not found", like an unknown
        one, so a caller cannot learn which job ids exist (the audit log keeps the real reason)."""
        job = await self.jobs.get(job_id)
        if job is None or "case_id" not in job.extra:
            await self.refuse(principal.subject, "", "unknown-job", f"{what} {job_id}")
            raise NotFoundError(f"no reconstruction job {job_id}")
        try:
            case = await self._authorize(principal, job.extra["case_id"], f"{what} {job_id}")
        except Forbidden:
            raise NotFoundError(f"no reconstruction job {job_id}") from None
        return job, case

    async def _authorize(
        self, principal: Principal, case_id: str, what: str, digest: str = ""
    ) -> str:
        try:
            return authorize(principal, case_id)
        except Forbidden as err:
            await self.refuse(principal.subject, case_id, err.code, f"{what}: {err}", digest)
            raise
        except BadInputError as err:
            await self.refuse(principal.subject, "", "bad-request", f"{what}: {err}", digest)
            raise

    async def _checked(self, who: str, case: str, digest: str, check: Callable[[], str]) -> str:
        try:
            return check()
        except BadInputError as err:
            await self.refuse(who, case, "bad-request", f"submit: {err}", digest)
            raise

    async def _record(self, who: str, case: str, job: JobStatus, what: str) -> None:
        await self.audit.append(
            actor=who,
            case_id=case,
            clip_sha256=job.extra.get("clip_sha256", ""),
            tracks=job.extra.get("tracks", ""),
            outcome=what,
            detail=f"job {job.job_id} {job.state.value}",
        )

    async def refuse(
        self, who: str, case: str, code: str, detail: str, digest: str = "", tracks: str = ""
    ) -> None:
        self.metrics.refused.labels(reason=code).inc()
        await self.audit.append(
            actor=who,
            case_id=case,
            clip_sha256=digest,
            tracks=tracks,
            outcome=f"refused:{code}",
            detail=detail[:300],
        )


# Comma-separated track ids; the OpenAPI spec carries the same pattern (ECMA and Python agree on it).
TRACKS = r"[ \t]*(?:[0-9]+[ \t]*)?(?:,[ \t]*(?:[0-9]+[ \t]*)?)*"


def parse_tracks(text: str | None) -> str:
    """Normalise "4, 1" to "1,4" ("" = every track); BadInputError for anything else."""
    if not text or not text.strip():
        return ""
    if not re.fullmatch(TRACKS, text):
        raise BadInputError(
            f"tracks must be comma-separated non-negative integers, got {text[:40]!r}"
        )
    ids = sorted({int(part) for part in text.split(",") if part.strip()})
    return ",".join(str(i) for i in ids)


def parse_flag(text: str | None, name: str) -> bool:
    """A form flag: "true"/"1"/"yes" or "false"/"0"/"no"/"" (absent); BadInputError otherwise."""
    value = (text or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise BadInputError(f"{name} must be true or false, got {value[:20]!r}")


def track_set(tracks: str) -> frozenset[int] | None:
    """``"1,4"`` (as normalised by :func:`parse_tracks`) -> {1, 4}; "" -> None (every track)."""
    return frozenset(int(t) for t in tracks.split(",")) if tracks else None


def describe_request(options: ReidOptions) -> str:
    """``mode sealed lossless`` / ``original``: what a job restores, in the audit log's words."""
    if options.original:
        return "original"
    return f"mode {options.mode}" + (" lossless" if options.lossless else "")


def parse_mode(text: str | None) -> str:
    """``auto`` (default), ``learned`` or ``sealed``."""
    mode = (text or "auto").strip() or "auto"
    if mode not in MODES:
        raise BadInputError(f"mode must be one of {', '.join(MODES)}, got {mode[:20]!r}")
    return mode


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def raw_key(job_id: str) -> str:
    """Where a job's uploaded clip waits (deleted when the job ends; ``raw/`` expires as backstop)."""
    return f"raw/{job_id}.mp4"


def result_key_for(job_id: str, original: bool = False) -> str:
    """Where a job's restored clip (or the sealed original file) goes."""
    return f"results/{job_id}.original" if original else f"results/{job_id}.mp4"


def custody_key_for(job_id: str) -> str:
    """Where a job's signed custody record goes (written last: its presence means done)."""
    return f"results/{job_id}.custody.json"


def result_media(key: str) -> tuple[str, str]:
    """(content type, download file name) of a result key."""
    name = key.rsplit("/", 1)[-1]
    return ("video/mp4" if name.endswith(".mp4") else "application/octet-stream"), name
