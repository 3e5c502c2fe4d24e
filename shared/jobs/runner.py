"""The worker loop: read a message, run the handler once per job id, record the outcome.

Delivery is at-least-once, so the loop is built for repeats:
- a job already ``done``/``failed`` is acked and skipped (idempotent per job id);
- the worker renews a lease (``keep_alive``) while it runs, and a running message is heartbeated
  (``touch``): a worker that dies (even by SIGKILL) loses its message within ``lease_s`` seconds, a
  worker that hangs after ``visibility_timeout_ms``; a clip that killed its worker on every one of
  ``max_attempts`` deliveries fails instead of killing the next one;
- the job store's end states are final and ``update_active`` is atomic, so when two workers run the
  same job only the first end counts (and only it runs ``on_terminal``);
- an ``UnavailableError`` (object store down) makes the job wait and retry, up to ``outage_wait_s``;
- a ``UUNetError`` (bad input) fails the job at once with its one-line reason: retrying cannot help;
- any other error is retried ``max_attempts`` times, then the message goes to the dead-letter stream
  and the job ends ``failed``; ``on_terminal`` runs once the job ends either way (e.g. delete the
  raw upload);
- the loop itself survives a queue or store outage (Redis restarting): it backs off and goes on;
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
from typing import TypeVar

from shared.domain.errors import UnavailableError, UUNetError
from shared.domain.jobs import JobState, JobStatus, QueueMessage
from shared.ports import JobQueue, JobStore

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class RunnerOptions:
    """How one worker consumes its stream."""

    consumer: str
    visibility_timeout_ms: int = 120_000
    heartbeat_s: float = 10.0
    max_attempts: int = 3
    block_ms: int = 1000
    reclaim_every_s: float = 2.0
    job_timeout_s: float = 3600.0
    lease_s: float = 6.0  # a dead worker's message is taken over this long after its death
    outage_wait_s: float = 300.0  # how long a job waits for an unreachable object store


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
        lease = asyncio.create_task(self._keep_alive())
        try:
            await self._retrying("ensure the consumer group", self.queue.ensure_group)
            loop = asyncio.get_running_loop()
            next_reclaim = 0.0
            while not self.stopping.is_set():
                messages: list[QueueMessage] = []
                if loop.time() >= next_reclaim:
                    messages += await self._retrying("reclaim", self._reclaim) or []
                    next_reclaim = loop.time() + self.options.reclaim_every_s
                messages += await self._retrying("read", self._read) or []
                for message in messages:
                    await self._retrying(f"job {message.msg_id}", self._processor(message))
        finally:
            lease.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease

    def stop(self) -> None:
        """Take no new message; the job in flight runs on until it ends or is handed back."""
        self.stopping.set()

    def _processor(self, message: QueueMessage) -> Callable[[], Awaitable[None]]:
        return lambda: self._process_unless_stopping(message)

    async def _read(self) -> list[QueueMessage]:
        return await self.queue.read(self.options.consumer, 1, self.options.block_ms)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call()`` until it succeeds, backing off while the queue or store is unreachable;
        None if the runner is stopped meanwhile. ``process`` is idempotent, so a retry is safe."""
        delay = 0.5
        while True:
            try:
                return await call()
            except UUNetError:  # not an outage (a job record gone): retrying cannot help
                log.exception("%s failed", what)
                return None
            except Exception as err:  # Redis restarting, network down: wait, never die
                log.warning("%s failed (%s); retrying in %.1f s", what, type(err).__name__, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return None
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _keep_alive(self) -> None:
        ttl_ms = int(self.options.lease_s * 1000)
        while True:
            try:
                await self.queue.keep_alive(self.options.consumer, ttl_ms)
            except Exception as err:  # the next renewal may work; the loop reports outages
                log.debug("lease renewal failed (%s)", type(err).__name__)
            await asyncio.sleep(self.options.lease_s / 3)

    def hand_back(self) -> bool:
        """Give up the job in flight (shutdown): it goes back to the stream; False if none runs."""
        if self._job is None or self._job.done():
            return False
        self._job.cancel()
        return True

    async def _reclaim(self) -> list[QueueMessage]:
        stalled = await self.queue.reclaim(
            self.options.consumer, self.options.visibility_timeout_ms
        )
        for message in stalled:
            log.warning("reclaimed %s (delivery %d)", message.msg_id, message.deliveries)
        return stalled

    async def reclaim_once(self) -> int:
        """Take over and process messages whose worker died or hung; returns how many."""
        stalled = await self._reclaim()
        for message in stalled:
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
        attempt = _attempt(message)
        running = None
        if not status.state.terminal:
            running = await self.store.update_active(
                job_id, state=JobState.RUNNING, attempts=attempt, error=None
            )
        if running is None:
            log.info("job %s already ended; acking redelivery", job_id)
            await self.queue.ack(message.msg_id)
            return
        if message.deliveries > self.options.max_attempts:
            reason = f"the worker died {message.deliveries - 1} times on this clip; giving up"
            await self.queue.dead_letter(message, reason)
            await self._finish(message, job_id, JobState.FAILED, error=reason, acked=True)
            return
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
        try:
            return await self._run_until_reachable(ctx)
        finally:
            self._job = None
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _run_until_reachable(self, ctx: JobContext) -> str | None:
        """Run the handler; while a dependency is unreachable, wait and run it again. The wait is
        the job in flight too, so a shutdown hands the job back from it (``hand_back``)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.options.outage_wait_s
        delay = 1.0
        while True:
            try:
                self._job = asyncio.ensure_future(self.handler(ctx))
                return await asyncio.wait_for(self._job, self.options.job_timeout_s)
            except TimeoutError as err:
                raise UUNetError(f"job timed out after {self.options.job_timeout_s:.0f} s") from err
            except UnavailableError as err:
                if loop.time() + delay > give_up:
                    raise UnavailableError(f"{err} (gave up after waiting)") from err
                log.warning("job %s waits for a dependency: %s", ctx.job_id, err)
            self._job = pause = asyncio.ensure_future(_nothing_after(delay))
            await pause
            delay = min(delay * 2, BACKOFF_MAX_S)

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
            await self.store.update_active(job_id, state=JobState.QUEUED, error=None)
            return
        reason = f"internal error after {attempt} attempts ({_describe(err)})"
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
        status = await self.store.update_active(
            job_id, state=state, error=error, result_key=result_key, progress=progress
        )
        if not acked:
            await self.queue.ack(message.msg_id)
        if status is None:  # another worker ended it first (a reclaimed duplicate)
            log.info("job %s had already ended; this run's %s is discarded", job_id, state)
            return
        log.info("job %s %s", job_id, state)
        if self.on_terminal:
            try:
                await self.on_terminal(status)
            except Exception:
                log.exception("on_terminal failed for job %s", job_id)


def _describe(err: Exception) -> str:
    """The error's type, plus the OS reason for an OSError (disk full, unwritable temp dir); never
    its message, which may carry server paths."""
    if isinstance(err, OSError) and err.strerror:
        return f"{type(err).__name__}: {err.strerror}"
    return type(err).__name__


async def _nothing_after(delay_s: float) -> str | None:
    await asyncio.sleep(delay_s)
    return None


def _attempt(message: QueueMessage) -> int:
    """Which attempt this delivery is: the retry counter in the fields, or the redeliveries."""
    return max(int(message.fields.get("attempt", "1")), message.deliveries)
