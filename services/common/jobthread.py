"""Run a blocking pipeline call of a job in a worker thread, bridging progress and cancellation.

Both services' workers use it: progress from the pipeline thread hops to the event loop (stored at
most every ``PROGRESS_STEP``), a job given up (timeout, shutdown) makes the next progress call raise
inside the thread so it stops, every progress write lands before the runner records the end state,
and server-side temp paths are scrubbed from the one-line reasons callers see.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from services.common.errors import without_paths
from shared.domain.errors import UUNetError
from shared.jobs.runner import JobContext
from shared.pipeline.api import Limits

R = TypeVar("R")
Progress = Callable[[float], None]

PROGRESS_STEP = 0.02  # store updates at most every 2 %


class JobCancelledError(UUNetError):
    """Raised inside the pipeline thread once its job was given up (timeout or shutdown)."""


@dataclass(frozen=True)
class HandlerOptions:
    """How a worker's handler runs the pipeline."""

    device: str = "cpu"
    limits: Limits = field(default_factory=Limits)
    work_dir: Path | None = None


async def run_in_thread(
    ctx: JobContext, call: Callable[[Progress], R], paths: dict[str, str] | None = None
) -> R:
    """``call(progress)`` in a thread; ``paths`` maps temp paths to stand-ins in error reasons."""
    loop = asyncio.get_running_loop()
    cancelled = threading.Event()
    last = [0.0]
    sent: list[concurrent.futures.Future[None]] = []

    async def report(fraction: float) -> None:
        await ctx.progress(fraction)

    def progress(fraction: float) -> None:
        # Called from the pipeline thread: hop to the loop, never block on the store.
        if cancelled.is_set():
            raise JobCancelledError("job cancelled")
        if fraction - last[0] >= PROGRESS_STEP or fraction >= 1.0:
            last[0] = fraction
            sent.append(asyncio.run_coroutine_threadsafe(report(fraction), loop))

    try:
        return await asyncio.to_thread(call, progress)
    except asyncio.CancelledError:
        cancelled.set()
        raise
    except UUNetError as err:
        raise without_paths(err, paths or {}) from None
    finally:
        # Let every progress write land before the runner records the end state.
        await asyncio.gather(*map(asyncio.wrap_future, sent), return_exceptions=True)
