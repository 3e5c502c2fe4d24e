"""The reconstruction job handler: S3 raw clip -> reidentify (in a thread) -> S3 result, audited.

Idempotent per job id: a result already in S3 is reused and the runner skips finished jobs. When a
job ends either way, ``on_terminal`` deletes the raw upload, counts the outcome and appends
``done`` or ``failed`` to the audit log under the caller who submitted it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.jobthread import HandlerOptions, JobCancelledError, run_in_thread
from services.common.metrics import JobMetrics
from services.private_reid.desk import (
    custody_key_for,
    result_key_for,
    result_media,
    track_set,
)
from shared.audit.custody import OUTCOME, CustodyRecord, CustodySigner
from shared.domain.errors import BadInputError, NotFoundError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.retention import ResultRetention
from shared.jobs.runner import JobContext
from shared.pipeline.api import ReidOptions, ReidReport
from shared.ports import AuditLog, JobStore, ObjectStore

log = logging.getLogger(__name__)
__all__ = ["HandlerOptions", "JobCancelledError", "ReidHandler", "Reidentify"]

# (src, dst, options, progress) -> report; the composition root binds keys and engine.
Reidentify = Callable[[Path, Path, ReidOptions, Callable[[float], None]], ReidReport]


@dataclass
class ReidHandler:
    """``JobRunner`` handler and ``on_terminal`` finaliser of the private worker."""

    objects: ObjectStore
    jobs: JobStore
    audit: AuditLog
    reidentify: Reidentify
    metrics: JobMetrics
    options: HandlerOptions
    custody: CustodySigner
    retention: ResultRetention | None = None

    async def __call__(self, ctx: JobContext) -> str:
        """Restore one clip; returns the result's S3 key."""
        job = await self.jobs.get(ctx.job_id)
        if job is None or "upload_key" not in job.extra:
            raise BadInputError("job record is missing its upload")
        extra = job.extra
        result_key = result_key_for(ctx.job_id, bool(extra.get("original")))
        if await self.objects.exists(custody_key_for(ctx.job_id)):
            log.info("job %s already has a result; reusing it", ctx.job_id)
            return result_key
        options = ReidOptions(
            mode=extra.get("mode", "auto"),
            tracks=track_set(extra.get("tracks", "")),
            device=self.options.device,
            limits=self.options.limits,
            lossless=bool(extra.get("lossless")),
            original=bool(extra.get("original")),
        )
        with tempfile.TemporaryDirectory(dir=self.options.work_dir, prefix="uunet-reid-") as tmp:
            src, dst = Path(tmp) / "in.mp4", Path(tmp) / "out.bin"
            try:
                await self.objects.get_file(extra["upload_key"], src)
            except NotFoundError:
                raise BadInputError("the uploaded clip is gone (expired or deleted)") from None
            report = await self._run(ctx, src, dst, options)
            await self.objects.put_file(result_key, dst, result_media(result_key)[0])
        await self._record_custody(ctx.job_id, extra, options, report)
        self.metrics.observe_frames(report.frames, report.faces_restored, report.seconds)
        log.info(
            "job %s: %d frames, %d faces restored", ctx.job_id, report.frames, report.faces_restored
        )
        for note in report.notes:  # tracks not restored, and an unverified clip
            log.warning("job %s: %s", ctx.job_id, note)
        return result_key

    async def _record_custody(
        self, job_id: str, extra: dict[str, Any], options: ReidOptions, report: ReidReport
    ) -> None:
        """Sign the custody record, append it to the audit log, then store it beside the result."""
        record = CustodyRecord(
            job_id=job_id,
            case_id=extra.get("case_id", ""),
            subject=extra.get("actor", "unknown"),
            at=time.time(),
            public_clip_sha256=extra.get("clip_sha256", ""),
            manifest_sha256=report.manifest_sha256,
            output_sha256=report.output_sha256,
            mode=report.mode_used,
            tracks=extra.get("tracks", ""),
            lossless=options.lossless,
            custody_key_id=self.custody.key_id,
            integrity=report.integrity,
        )
        signed = self.custody.sign(record)
        await self.audit.append(
            actor=record.subject,
            case_id=record.case_id,
            clip_sha256=record.public_clip_sha256,
            tracks=record.tracks,
            outcome=OUTCOME,
            detail=signed.to_json(),
        )
        await self.objects.put_bytes(
            custody_key_for(job_id), signed.to_json().encode(), "application/json"
        )

    async def _run(self, ctx: JobContext, src: Path, dst: Path, options: ReidOptions) -> ReidReport:
        return await run_in_thread(
            ctx,
            lambda progress: self.reidentify(src, dst, options, progress),
            {str(src): "the clip", str(dst): "the result"},
        )

    async def on_terminal(self, status: JobStatus) -> None:
        """Delete the raw upload, count the outcome, audit ``done``/``failed``."""
        extra = status.extra
        if extra.get("upload_key"):
            await self.objects.delete(extra["upload_key"])
        if self.retention is not None:
            await self.retention.schedule(status)
        outcome = "done" if status.state is JobState.DONE else "failed"
        self.metrics.observe_job(outcome, max(0.0, time.time() - status.created_at))
        detail = f"job {status.job_id}" + (f": {status.error}" if status.error else "")
        await self.audit.append(
            actor=extra.get("actor", "unknown"),
            case_id=extra.get("case_id", ""),
            clip_sha256=extra.get("clip_sha256", ""),
            tracks=extra.get("tracks", ""),
            outcome=outcome,
            detail=detail[:300],
        )
