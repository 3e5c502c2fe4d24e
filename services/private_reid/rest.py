"""REST front end of the private service: routes only translate HTTP into :class:`Desk` calls.

The token is checked (and every refusal audited) before the body is read; the clip streams to a
temp file under the size cap. ``Forbidden`` maps to 403 and ``NotReady`` to 409 here; the other
domain errors go through the common table (401, 404, 413, 422: a tampered clip, a seal for another
authority key, an option the clip cannot serve). A finished job's signed custody record is at
``GET /v1/reconstructions/{id}/custody``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from services.common.openapi import error_responses
from services.common.uploads import FormSpec, UploadPace, UploadSlots, receive_multipart, spool_file
from services.private_reid.auth import Forbidden, Principal, TokenRejected
from services.private_reid.desk import (
    TRACKS,
    Desk,
    NotReady,
    SubmitRequest,
    parse_flag,
    result_media,
)
from shared.domain.errors import BadInputError, LimitExceededError
from shared.domain.jobs import JobStatus

_bearer = HTTPBearer(auto_error=False, description="JWT with the `reconstruct` scope")


@dataclass(frozen=True)
class RestOptions:
    """Upload cap, temp dir and how results are served."""

    max_upload_bytes: int
    work_dir: Path | None = None
    result_redirect: bool = False
    presign_expiry_s: int = 300
    pace: UploadPace = field(default_factory=UploadPace)
    docs: bool = False  # OpenAPI docs (dev, or API_DOCS=true)
    slots: UploadSlots = field(default_factory=UploadSlots)  # shared with gRPC


def get_desk(request: Request) -> Desk:
    """The process's desk (set by the composition root)."""
    desk: Desk = request.app.state.desk
    return desk


def get_options(request: Request) -> RestOptions:
    options: RestOptions = request.app.state.rest_options
    return options


def _authorization(creds: HTTPAuthorizationCredentials | None, request: Request) -> str | None:
    if creds is not None:
        return f"{creds.scheme} {creds.credentials}"
    return request.headers.get("authorization")


DeskDep = Annotated[Desk, Depends(get_desk)]
OptionsDep = Annotated[RestOptions, Depends(get_options)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


class JobCreated(BaseModel):
    job_id: str


class JobOut(BaseModel):
    job_id: str
    state: str = Field(description="queued | running | done | failed")
    progress: float = Field(description="fraction done, 0..1")
    error: str | None = Field(default=None, description="one-line reason when failed")
    case_id: str = ""
    tracks: str = Field(default="", description="restricted track ids; empty: every track")

    @classmethod
    def of(cls, status: JobStatus) -> JobOut:
        return cls(
            job_id=status.job_id,
            state=status.state.value,
            progress=status.progress,
            error=status.error,
            case_id=status.extra.get("case_id", ""),
            tracks=status.extra.get("tracks", ""),
        )


_FORM_FIELDS = frozenset({"case_id", "tracks", "mode", "lossless", "original"})
_MULTIPART_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "case_id"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "minLength": 1,
                            "description": "a public clip signed by this deployment (else 422)",
                        },
                        "case_id": {
                            "type": "string",
                            "pattern": "[!-~]",
                        },  # a visible ASCII character
                        "tracks": {
                            "type": "string",
                            "pattern": f"^{TRACKS}$",
                            "description": "e.g. 1,4 (default: all)",
                        },
                        "mode": {"type": "string", "enum": ["auto", "learned", "sealed"]},
                        "lossless": {
                            "type": "boolean",
                            "description": "restored clip without loss: sealed faces exact "
                            "(H.264 High 4:4:4 Predictive, qp 0)",
                        },
                        "original": {
                            "type": "boolean",
                            "description": "the sealed original input file, byte for byte",
                        },
                    },
                }
            }
        },
    }
}

router = APIRouter(
    prefix="/v1/reconstructions",
    tags=["reconstructions"],
    responses=error_responses(401, 403, 422, 503),  # every route: token, scope/case, input, deps
)


async def _principal(desk: Desk, creds: Any, request: Request, what: str) -> Principal:
    # Behind a proxy: the X-Forwarded-For client when the proxy is in TRUSTED_PROXIES.
    client = request.client.host if request.client else "unknown"
    return await desk.authenticate(_authorization(creds, request), what, client)


@router.post(
    "",
    status_code=202,
    response_model=JobCreated,
    openapi_extra=_MULTIPART_DOC,
    responses=error_responses(408, 413),
)
async def post_reconstruction(
    request: Request, creds: BearerDep, desk: DeskDep, options: OptionsDep
) -> JobCreated:
    """Upload a de-identified clip with a case reference and queue its reconstruction."""
    principal = await _principal(desk, creds, request, "submit")
    with options.slots.take(), spool_file(options.work_dir, "uunet-reid-", "upload.mp4") as path:
        try:
            spec = FormSpec("file", _FORM_FIELDS, options.max_upload_bytes, options.pace)
            form = await receive_multipart(request, spec, path)
        except BadInputError as err:
            code = "too-large" if isinstance(err, LimitExceededError) else "bad-upload"
            await desk.refuse(principal.subject, "", code, f"submit: {err}")
            raise
        submit = SubmitRequest(
            case_id=form.fields.get("case_id", ""),
            tracks=form.fields.get("tracks", ""),
            mode=form.fields.get("mode", "auto"),
            lossless=parse_flag(form.fields.get("lossless"), "lossless"),
            original=parse_flag(form.fields.get("original"), "original"),
        )
        return JobCreated(job_id=await desk.submit(principal, submit, path))


@router.get("/{job_id}", response_model=JobOut, responses=error_responses(404))
async def get_reconstruction(
    job_id: str, request: Request, creds: BearerDep, desk: DeskDep
) -> JobOut:
    """A reconstruction job's state and progress (404 for unknown ids)."""
    principal = await _principal(desk, creds, request, f"status {job_id}")
    return JobOut.of(await desk.status(principal, job_id))


@router.get(
    "/{job_id}/result",
    response_model=None,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the restored clip"},
        307: {"description": "redirect to a short-lived presigned URL (when configured)"},
        **error_responses(404, 409, 410),
    },
)
async def get_result(
    job_id: str, request: Request, creds: BearerDep, desk: DeskDep, options: OptionsDep
) -> StreamingResponse | RedirectResponse:
    """The restored clip: streamed through the service, or a presigned redirect if configured."""
    principal = await _principal(desk, creds, request, f"download {job_id}")
    key = await desk.result_key(principal, job_id)
    if options.result_redirect:
        url = await desk.objects.presigned_get(key, options.presign_expiry_s)
        return RedirectResponse(url, status_code=307)
    stat = await desk.objects.stat(key)
    media_type, name = result_media(key)
    return StreamingResponse(
        _then(desk.objects.stream(key), functools.partial(desk.downloaded, principal, job_id)),
        media_type=media_type,
        headers={
            "Content-Length": str(stat.size),
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@router.get(
    "/{job_id}/custody",
    responses={
        200: {"description": "the signed custody record (see docs/PIPELINE.md)"},
        **error_responses(404, 409),
    },
)
async def get_custody(
    job_id: str, request: Request, creds: BearerDep, desk: DeskDep
) -> dict[str, Any]:
    """The finished job's custody record, signed by the private service."""
    principal = await _principal(desk, creds, request, f"custody {job_id}")
    record: dict[str, Any] = json.loads(await desk.custody(principal, job_id))
    return record


async def _then(
    chunks: AsyncIterator[bytes], after: Callable[[], Awaitable[None]]
) -> AsyncIterator[bytes]:
    """``chunks``, then ``after()`` -- reached only once every chunk was sent (a client that drops
    the connection closes this generator before)."""
    async for chunk in chunks:
        yield chunk
    await after()


def install_private_errors(app: FastAPI) -> None:
    """401 with a Bearer challenge, 403 for a genuine token that may not act, 409 for a result that is not there yet."""

    async def _forbidden(request: Request, err: Exception) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(err)})

    async def _not_ready(request: Request, err: Exception) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(err)})

    async def _unauthenticated(request: Request, err: Exception) -> JSONResponse:
        return JSONResponse(
            status_code=401,
            content={"detail": str(err)},
            headers={"WWW-Authenticate": 'Bearer realm="uunet-private"'},
        )

    app.add_exception_handler(TokenRejected, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(NotReady, _not_ready)
