"""Helpers both gRPC front ends share: the Job message, job watching with a deadline, and the
domain-error-to-status decorators."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from services.common.errors import REDIS_OUTAGES, grpc_status_for, store_unavailable
from shared.domain.errors import UUNetError
from shared.domain.jobs import JobState, JobStatus
from uunet_api.common.v1 import jobs_pb2

_T = TypeVar("_T")
StatusFor = Callable[[UUNetError], grpc.StatusCode]
Unary = Callable[[Callable[..., Awaitable[_T]]], Callable[..., Awaitable[_T]]]
Streaming = Callable[[Callable[..., AsyncIterator[_T]]], Callable[..., AsyncIterator[_T]]]

_STATES = {
    JobState.QUEUED: jobs_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: jobs_pb2.JOB_STATE_RUNNING,
    JobState.DONE: jobs_pb2.JOB_STATE_DONE,
    JobState.FAILED: jobs_pb2.JOB_STATE_FAILED,
}


def job_message(status: JobStatus) -> jobs_pb2.Job:
    """JobStatus -> ``uunet.common.v1.Job``."""
    return jobs_pb2.Job(
        job_id=status.job_id,
        state=_STATES[status.state],
        progress=status.progress,
        error=status.error or "",
    )


async def watch_job(
    status: JobStatus | None,
    poll: Callable[[], Awaitable[JobStatus | None]],
    context: grpc.aio.ServicerContext,
    timing: tuple[float, float],
) -> AsyncIterator[jobs_pb2.Job]:
    """Stream each change of a job from ``status`` on (``poll`` reads it again) until it ends;
    DEADLINE_EXCEEDED after ``timing`` = (interval, timeout) seconds, so a watch of a job that never
    finishes does not hold a stream (and a server slot) forever."""
    interval_s, timeout_s = timing
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: tuple[JobState, float] | None = None
    while status is not None:
        if (status.state, status.progress) != last:
            last = (status.state, status.progress)
            yield job_message(status)
        if status.state.terminal:
            return
        if loop.time() > deadline:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "job still not finished")
        await asyncio.sleep(interval_s)
        status = await poll()


def aborting_on_domain_errors(
    status_for: StatusFor = grpc_status_for,
) -> tuple[Unary[Any], Streaming[Any]]:
    """Decorators for unary and server-streaming handlers: a UUNetError aborts the call with
    ``status_for(err)`` and its one-line reason."""

    def unary(fn: Callable[..., Awaitable[_T]]) -> Callable[..., Awaitable[_T]]:
        @functools.wraps(fn)
        async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> _T:
            try:
                return await fn(self, request, context)
            except UUNetError as err:
                await context.abort(status_for(err), str(err))
                raise  # unreachable: abort raises
            except REDIS_OUTAGES:
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(store_unavailable()))
                raise

        return wrapper

    def streaming(fn: Callable[..., AsyncIterator[_T]]) -> Callable[..., AsyncIterator[_T]]:
        @functools.wraps(fn)
        async def wrapper(
            self: Any, request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[_T]:
            try:
                async for item in fn(self, request, context):
                    yield item
            except UUNetError as err:
                await context.abort(status_for(err), str(err))
            except REDIS_OUTAGES:
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(store_unavailable()))

        return wrapper

    return unary, streaming
