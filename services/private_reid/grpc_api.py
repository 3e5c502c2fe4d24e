"""gRPC front end (``uunet.reid.v1.ReidService``): translates calls into :class:`Desk` calls.

The bearer token rides in the ``authorization`` metadata entry and is checked (and any refusal
audited) before a single upload chunk is read. Status codes: UNAUTHENTICATED (bad token),
PERMISSION_DENIED (scope or case), INVALID_ARGUMENT (tampered or bad clip), NOT_FOUND,
FAILED_PRECONDITION (no result yet), RESOURCE_EXHAUSTED (too large).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.common.errors import grpc_status_for
from services.common.grpc_handlers import aborting_on_domain_errors, job_message, watch_job
from services.common.uploads import UploadPace, UploadSlots, spool_chunks, spool_file
from services.private_reid.auth import Forbidden, Principal
from services.private_reid.desk import Desk, NotReady, SubmitRequest
from shared.domain.errors import BadInputError, LimitExceededError, UUNetError
from uunet_api.common.v1 import jobs_pb2
from uunet_api.reid.v1 import reid_pb2, reid_pb2_grpc

SERVICE_NAME = reid_pb2.DESCRIPTOR.services_by_name["ReidService"].full_name
CHUNK_BYTES = 1 << 20


def status_code(err: UUNetError) -> grpc.StatusCode:
    """The private side's mapping: 403 and 409 equivalents first, then the common table."""
    if isinstance(err, Forbidden):
        return grpc.StatusCode.PERMISSION_DENIED
    if isinstance(err, NotReady):
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc_status_for(err)


_unary, _streaming = aborting_on_domain_errors(status_code)


@dataclass(frozen=True)
class GrpcOptions:
    """Upload cap, temp dir and the watch poll interval."""

    max_upload_bytes: int
    work_dir: Path | None = None
    watch_interval_s: float = 0.5
    watch_timeout_s: float = 3900.0  # a little over the job timeout: a watch never hangs forever
    pace: UploadPace = field(default_factory=UploadPace)
    slots: UploadSlots = field(default_factory=UploadSlots)  # shared with REST


class ReidServicer(reid_pb2_grpc.ReidServiceServicer):
    """The five RPCs of the private API."""

    def __init__(self, desk: Desk, options: GrpcOptions) -> None:
        self.desk = desk
        self.options = options

    async def _principal(self, context: grpc.aio.ServicerContext, what: str) -> Principal:
        metadata = dict(context.invocation_metadata() or ())
        value = metadata.get("authorization")
        client = peer_address(context.peer() or "")
        return await self.desk.authenticate(value if isinstance(value, str) else None, what, client)

    @_unary
    async def SubmitReconstruction(
        self,
        request_iterator: AsyncIterator[reid_pb2.SubmitReconstructionRequest],
        context: grpc.aio.ServicerContext,
    ) -> reid_pb2.SubmitReconstructionResponse:
        principal = await self._principal(context, "submit")  # before a single chunk is read
        with (
            self.options.slots.take(),
            spool_file(self.options.work_dir, "uunet-reid-", "upload.mp4") as path,
        ):
            try:
                meta = await _metadata(request_iterator)
                await spool_chunks(
                    _chunks(request_iterator),
                    path,
                    self.options.max_upload_bytes,
                    self.options.pace,
                )
            except BadInputError as err:
                code = "too-large" if isinstance(err, LimitExceededError) else "bad-upload"
                await self.desk.refuse(principal.subject, "", code, f"submit: {err}")
                raise
            submit = SubmitRequest(
                case_id=meta.case_id,
                tracks=",".join(str(t) for t in meta.tracks),
                mode=meta.mode or "auto",
                lossless=meta.lossless,
                original=meta.original,
            )
            job_id = await self.desk.submit(principal, submit, path)
        return reid_pb2.SubmitReconstructionResponse(job_id=job_id)

    @_unary
    async def GetReconstruction(
        self, request: reid_pb2.GetReconstructionRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        principal = await self._principal(context, f"status {request.job_id}")
        return job_message(await self.desk.status(principal, request.job_id))

    @_streaming
    async def WatchReconstruction(
        self, request: reid_pb2.GetReconstructionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.Job]:
        principal = await self._principal(context, f"status {request.job_id}")
        first = await self.desk.status(principal, request.job_id)  # audited once
        poll = functools.partial(self.desk.jobs.get, request.job_id)
        timing = (self.options.watch_interval_s, self.options.watch_timeout_s)
        async for job in watch_job(first, poll, context, timing):
            yield job

    @_streaming
    async def DownloadReconstruction(
        self, request: reid_pb2.GetReconstructionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.Chunk]:
        principal = await self._principal(context, f"download {request.job_id}")
        key = await self.desk.result_key(principal, request.job_id)
        async for data in self.desk.objects.stream(key, CHUNK_BYTES):
            yield jobs_pb2.Chunk(data=data)
        await self.desk.downloaded(principal, request.job_id)  # every chunk went out

    @_unary
    async def GetCustody(
        self, request: reid_pb2.GetReconstructionRequest, context: grpc.aio.ServicerContext
    ) -> reid_pb2.CustodyRecord:
        principal = await self._principal(context, f"custody {request.job_id}")
        return reid_pb2.CustodyRecord(
            record_json=await self.desk.custody(principal, request.job_id)
        )


def peer_address(peer: str) -> str:
    """The address of a gRPC peer ("ipv4:1.2.3.4:5678" -> "1.2.3.4"; "ipv6:[::1]:5" -> "::1")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or rest
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    return peer or "unknown"


async def _metadata(
    request_iterator: AsyncIterator[reid_pb2.SubmitReconstructionRequest],
) -> reid_pb2.ReconstructionMetadata:
    first = await anext(aiter(request_iterator), None)
    if first is None or first.WhichOneof("part") != "metadata":
        raise BadInputError("the first SubmitReconstruction message must carry the metadata")
    return first.metadata


async def _chunks(
    request_iterator: AsyncIterator[reid_pb2.SubmitReconstructionRequest],
) -> AsyncIterator[bytes]:
    async for message in request_iterator:
        if message.WhichOneof("part") != "chunk":
            raise BadInputError("only the first SubmitReconstruction message may carry metadata")
        yield message.chunk


def registration(servicer: ReidServicer) -> Callable[[grpc.aio.Server], None]:
    """Bind ``servicer`` for ``build_grpc_server``."""
    return functools.partial(_add, servicer)


def _add(servicer: ReidServicer, server: grpc.aio.Server) -> None:
    reid_pb2_grpc.add_ReidServiceServicer_to_server(servicer, server)
