"""The de-identification job handler: S3 raw clip -> pipeline (in a thread) -> S3 result.

Idempotent per job id: a result already in S3 is reused, and the runner skips finished jobs. The
pipeline runs in a thread; its progress goes to the job store, and a cancelled job (timeout, stop)
makes the next progress call raise so the thread ends instead of running on unseen.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from services.common.jobthread import HandlerOptions, JobCancelledError, run_in_thread
from services.common.metrics import JobMetrics
from services.common.uploads import too_large
from services.public_deid.service import parse_attributes, result_key_for
from shared.domain.errors import BadInputError, NotFoundError
from shared.domain.jobs import JobState, JobStatus
from shared.jobs.retention import ResultRetention
from shared.jobs.runner import JobContext
from shared.pipeline.api import DeidOptions, DeidReport
from shared.ports import ObjectStore

log = logging.getLogger(__name__)
__all__ = ["DeidHandler", "Deidentify", "HandlerOptions", "JobCancelledError"]

# (src, dst, options, progress) -> report; the composition root binds keys and engine.
Deidentify = Callable[[Path, Path, DeidOptions, Callable[[float], None]], DeidReport]


class DeidHandler:
    """``JobRunner`` handler and ``on_terminal`` finaliser of the public worker."""

    def __init__(
        self,
        objects: ObjectStore,
        deidentify: Deidentify,
        metrics: JobMetrics,
        options: HandlerOptions,
        retention: ResultRetention | None = None,
    ) -> None:
        self.objects = objects
        self.deidentify = deidentify
        self.metrics = metrics
        self.options = options
        self.retention = retention

    async def __call__(self, ctx: JobContext) -> str:
        """Process one job; returns the result's S3 key."""
        result_key = result_key_for(ctx.job_id)
        if await self.objects.exists(result_key):
            log.info("job %s already has a result; reusing it", ctx.job_id)
            return result_key
        options = DeidOptions(
            keep_audio=ctx.fields.get("keep_audio") == "1",
            attributes=parse_attributes(
                [a for a in ctx.fields.get("attributes", "").split(",") if a]
            ),
            device=self.options.device,
            limits=self.options.limits,
            clip_id=ctx.job_id,
        )
        with tempfile.TemporaryDirectory(dir=self.options.work_dir, prefix="uunet-job-") as tmp:
            src, dst = Path(tmp) / "clip", Path(tmp) / "out.mp4"
            await self._fetch(ctx.fields["raw_key"], src)
            report = await self._run(ctx, src, dst, options)
            await self.objects.put_file(result_key, dst, "video/mp4")
        self.metrics.observe_frames(report.frames, report.faces, report.seconds)
        rate = report.frames / report.seconds if report.seconds > 0 else 0.0
        log.info(
            "job %s: %d frames, %d faces, %.1f frames/s",
            ctx.job_id,
            report.frames,
            report.faces,
            rate,
        )
        return result_key

    async def _fetch(self, key: str, dst: Path) -> None:
        """Download the raw clip after checking its size again (the pipeline then probes it)."""
        try:
            size = (await self.objects.stat(key)).size
            if size == 0:
                raise BadInputError("the uploaded clip is empty (0 bytes)")
            if size > self.options.limits.max_bytes:
                raise too_large(self.options.limits.max_bytes)
            await self.objects.get_file(key, dst)
        except NotFoundError:
            raise BadInputError("the uploaded clip is gone (expired or deleted)") from None

    async def _run(self, ctx: JobContext, src: Path, dst: Path, options: DeidOptions) -> DeidReport:
        return await run_in_thread(
            ctx,
            lambda progress: self.deidentify(src, dst, options, progress),
            {str(src): "the clip", str(dst): "the result"},
        )

    async def on_terminal(self, status: JobStatus) -> None:
        """Delete the raw upload as soon as the job ends, start the result's clock, count."""
        raw = status.extra.get("raw_key")
        if raw:
            await self.objects.delete(raw)
        if self.retention is not None:
            await self.retention.schedule(status)
        outcome = "done" if status.state is JobState.DONE else "failed"
        self.metrics.observe_job(outcome, max(0.0, time.time() - status.created_at))
