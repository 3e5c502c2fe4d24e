"""Helpers both gRPC front ends share: the Job message and domain-error-to-status decorators."""

from __future__ import annotations

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
