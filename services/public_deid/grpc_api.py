"""gRPC front end (``uunet.deid.v1.DeidService``): translates calls into ``DeidJobs`` use cases.

Auth rides in the ``x-api-key`` metadata entry; domain errors become status codes through the
shared table (UNAUTHENTICATED, RESOURCE_EXHAUSTED, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable

import grpc

from services.common.errors import grpc_status_for
from services.common.grpc_handlers import aborting_on_domain_errors, job_message, watch_job
from services.common.uploads import spool_chunks
from services.public_deid.auth import Gate, Vendor
from services.public_deid.service import ClipRequest, DeidJobs
from shared.domain.errors import BadInputError
from uunet_api.common.v1 import jobs_pb2
from uunet_api.deid.v1 import deid_pb2, deid_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = deid_pb2.DESCRIPTOR.services_by_name["DeidService"].full_name
CHUNK_BYTES = 1 << 20
_unary, _streaming = aborting_on_domain_errors(grpc_status_for)


class DeidServicer(deid_pb2_grpc.DeidServiceServicer):
    """The four RPCs of the public API."""

    def __init__(
        self,
        jobs: DeidJobs,
        gate: Gate,
        watch_interval_s: float = 0.5,
        watch_timeout_s: float = 3900.0,  # a little over the job timeout
    ) -> None:
        self.jobs = jobs
        self.gate = gate
        self.watch_interval_s = watch_interval_s
        self.watch_timeout_s = watch_timeout_s

    def _vendor(self, context: grpc.aio.ServicerContext) -> Vendor:
        metadata = dict(context.invocation_metadata() or ())
        key = metadata.get("x-api-key")
        return self.gate.authenticate(key if isinstance(key, str) else None)

    @_unary
    async def UploadClip(
        self,
        request_iterator: AsyncIterator[deid_pb2.UploadClipRequest],
        context: grpc.aio.ServicerContext,
    ) -> deid_pb2.UploadClipResponse:
        vendor = self._vendor(context)  # before a single chunk is read
        await self.gate.admit_submission(vendor)
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "metadata":
            raise BadInputError("the first UploadClip message must carry the metadata")
        meta = first.metadata
        clip = ClipRequest(meta.filename, meta.keep_audio, tuple(meta.attributes))
        with self.jobs.spool_path() as path:
            limit = self.jobs.max_bytes_for(vendor)
            await spool_chunks(_chunks(request_iterator), path, limit, self.jobs.pace)
            job_id = await self.jobs.submit_file(vendor, clip, path)
        return deid_pb2.UploadClipResponse(job_id=job_id)

    @_unary
    async def GetJob(
        self, request: deid_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        return job_message(await self.jobs.get(self._vendor(context), request.job_id))

    @_streaming
    async def WatchJob(
        self, request: deid_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.Job]:
        vendor = self._vendor(context)
        poll = functools.partial(self.jobs.get, vendor, request.job_id)
        timing = (self.watch_interval_s, self.watch_timeout_s)
        async for job in watch_job(await poll(), poll, context, timing):
            yield job

    @_streaming
    async def DownloadResult(
        self, request: deid_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.Chunk]:
        key = await self.jobs.result_key(self._vendor(context), request.job_id)
        async for data in self.jobs.objects.stream(key, CHUNK_BYTES):
            yield jobs_pb2.Chunk(data=data)


async def _chunks(
    request_iterator: AsyncIterator[deid_pb2.UploadClipRequest],
) -> AsyncIterator[bytes]:
    async for message in request_iterator:
        if message.WhichOneof("part") != "chunk":
            raise BadInputError("only the first UploadClip message may carry metadata")
        yield message.chunk


def registration(servicer: DeidServicer) -> Callable[[grpc.aio.Server], None]:
    """Bind ``servicer`` for ``build_grpc_server``."""
    return functools.partial(_add, servicer)


def _add(servicer: DeidServicer, server: grpc.aio.Server) -> None:
    deid_pb2_grpc.add_DeidServiceServicer_to_server(servicer, server)
