"""The worker loop: read a message, run the handler once per job id, record the outcome.

Delivery is at-least-once, so the loop is built for repeats:
- a job already ``done``/``failed`` is acked and skipped (idempotent per job id);
- a running message is heartbeated (``touch``) so other workers leave it alone, and a message whose
  worker died is reclaimed after ``visibility_timeout_ms``;
- a ``UUNetError`` (bad input) fails the job at once with its one-line reason: retrying cannot help;
- any other error is retried ``max_attempts`` times, then the message goes to the dead-letter stream
  and the job ends ``failed``; ``on_terminal`` runs once the job ends either way (e.g. delete the
  raw upload);
- a job given up because the worker shuts down (:meth:`JobRunner.hand_back`, or the runner task
  cancelled) is handed back at once: released to the stream for another worker, ``queued`` again,
  the same attempt; nobody waits for the visibility timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.domain.errors import UUNetError
from shared.domain.jobs import JobState, JobStatus, QueueMessage
from shared.ports import JobQueue, JobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerOptions:
    """How one worker consumes its stream."""

    consumer: str
    visibility_timeout_ms: int = 120_000
    heartbeat_s: float = 10.0
    max_attempts: int = 3
    block_ms: int = 1000
    reclaim_every_s: float = 5.0
    job_timeout_s: float = 3600.0


@dataclass
class JobContext:
    """What a handler gets: the job id, the message fields, the attempt, and a progress reporter."""

    job_id: str
    fields: dict[str, str]
    attempt: int
    progress: Callable[[float], Awaitable[None]]


Handler = Callable[[JobContext], Awaitable[str | None]]
Finalizer = Callable[[JobStatus], Awaitable[None]]


class JobRunner:
    """Consumes ``queue`` and keeps ``store`` up to date; one job at a time per runner."""

    def __init__(
        self,
        queue: JobQueue,
        store: JobStore,
        handler: Handler,
        options: RunnerOptions,
        on_terminal: Finalizer | None = None,
    ) -> None:
        self.queue = queue
        self.store = store
        self.handler = handler
        self.options = options
        self.on_terminal = on_terminal
        self.stopping = asyncio.Event()
        self._job: asyncio.Future[str | None] | None = None

    async def run_forever(self) -> None:
        """Loop until :meth:`stop`; reclaims stalled messages every ``reclaim_every_s``."""
        await self.queue.ensure_group()
        loop = asyncio.get_running_loop()
        next_reclaim = 0.0
        while not self.stopping.is_set():
            if loop.time() >= next_reclaim:
                await self.reclaim_once()
                next_reclaim = loop.time() + self.options.reclaim_every_s
            for message in await self.queue.read(self.options.consumer, 1, self.options.block_ms):
                await self._process_unless_stopping(message)

    def stop(self) -> None:
        """Take no new message; the job in flight runs on until it ends or is handed back."""
        self.stopping.set()

    def hand_back(self) -> bool:
        """Give up the job in flight (shutdown): it goes back to the stream; False if none runs."""
        if self._job is None or self._job.done():
            return False
        self._job.cancel()
        return True

    async def reclaim_once(self) -> int:
        """Take over and process messages whose worker went silent; returns how many."""
        stalled = await self.queue.reclaim(
            self.options.consumer, self.options.visibility_timeout_ms
        )
        for message in stalled:
            log.warning("reclaimed %s (delivery %d)", message.msg_id, message.deliveries)
            await self._process_unless_stopping(message)
        return len(stalled)

    async def _process_unless_stopping(self, message: QueueMessage) -> None:
        """Process, or (stop arrived while it was being read) hand it straight back unstarted."""
        if self.stopping.is_set():
            await self.queue.release(message, {"attempt": str(_attempt(message))})
            return
        await self.process(message)

    async def process(self, message: QueueMessage) -> None:
        """Handle one delivery; never raises (every outcome is recorded)."""
        job_id = message.fields.get("job_id", "")
        status = await self.store.get(job_id) if job_id else None
        if status is None:
            await self.queue.dead_letter(message, "message without a known job_id")
            return
        if status.state.terminal:
            log.info("job %s already %s; acking redelivery", job_id, status.state)
            await self.queue.ack(message.msg_id)
            return
        attempt = _attempt(message)
        await self.store.update(job_id, state=JobState.RUNNING, attempts=attempt, error=None)
        try:
            result_key = await self._run_with_heartbeat(message, job_id, attempt)
        except asyncio.CancelledError:
            # Shielded: the release must land even while this task is being cancelled.
            await asyncio.shield(self._release(message, job_id, attempt))
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the runner itself is cancelled, not only its job
            return
        except UUNetError as err:
            await self._finish(message, job_id, JobState.FAILED, error=str(err))
        except Exception as err:
            await self._retry_or_dead(message, job_id, attempt, err)
        else:
            await self._finish(message, job_id, JobState.DONE, result_key=result_key)

    async def _run_with_heartbeat(
        self, message: QueueMessage, job_id: str, attempt: int
    ) -> str | None:
        async def progress(fraction: float) -> None:
            await self.store.update(job_id, progress=round(min(max(fraction, 0.0), 1.0), 4))

        ctx = JobContext(job_id, dict(message.fields), attempt, progress)
        beat = asyncio.create_task(self._heartbeat(message.msg_id))
        self._job = asyncio.ensure_future(self.handler(ctx))
        try:
            return await asyncio.wait_for(self._job, self.options.job_timeout_s)
        except TimeoutError as err:
            raise UUNetError(f"job timed out after {self.options.job_timeout_s:.0f} s") from err
        finally:
            self._job = None
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _release(self, message: QueueMessage, job_id: str, attempt: int) -> None:
        await self.queue.release(message, {"attempt": str(attempt)})
        await self.store.update(job_id, state=JobState.QUEUED, progress=0.0, error=None)
        log.warning("job %s handed back to the stream (worker stopping)", job_id)

    async def _heartbeat(self, msg_id: str) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            await self.queue.touch(self.options.consumer, msg_id)

    async def _retry_or_dead(
        self, message: QueueMessage, job_id: str, attempt: int, err: Exception
    ) -> None:
        log.error("job %s attempt %d failed: %s", job_id, attempt, type(err).__name__, exc_info=err)
        if attempt < self.options.max_attempts:
            await self.queue.enqueue({**message.fields, "attempt": str(attempt + 1)})
            await self.queue.ack(message.msg_id)
            await self.store.update(job_id, state=JobState.QUEUED, error=None)
            return
        reason = f"internal error after {attempt} attempts ({type(err).__name__})"
        await self.queue.dead_letter(message, reason)
        await self._finish(message, job_id, JobState.FAILED, error=reason, acked=True)

    async def _finish(
        self,
        message: QueueMessage,
        job_id: str,
        state: JobState,
        error: str | None = None,
        result_key: str | None = None,
        acked: bool = False,
    ) -> None:
        progress = 1.0 if state is JobState.DONE else None
        status = await self.store.update(
            job_id, state=state, error=error, result_key=result_key, progress=progress
        )
        if not acked:
            await self.queue.ack(message.msg_id)
        log.info("job %s %s", job_id, state)
        if self.on_terminal:
            try:
                await self.on_terminal(status)
            except Exception:
                log.exception("on_terminal failed for job %s", job_id)


def _attempt(message: QueueMessage) -> int:
    """Which attempt this delivery is: the retry counter in the fields, or the redeliveries."""
    return max(int(message.fields.get("attempt", "1")), message.deliveries)
