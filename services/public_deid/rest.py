"""REST front end: one APIRouter per resource (clips, uploads, jobs); routes only translate.

Authentication happens in a dependency, before the body is read, so a missing or bad key costs
nothing; uploads stream to a temp file under the size cap (413 as soon as it is crossed).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import RedirectResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from services.common.openapi import error_responses
from services.common.uploads import FormSpec, form_flag, receive_multipart
from services.public_deid.auth import Gate, Vendor
from services.public_deid.service import (
    ATTRIBUTE,
    ATTRIBUTES,
    ClipRequest,
    DeidJobs,
    split_attributes,
)
from shared.domain.jobs import JobStatus

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="vendor API key")


def get_jobs(request: Request) -> DeidJobs:
    """The process's use-case object (set by the composition root)."""
    jobs: DeidJobs = request.app.state.deid_jobs
    return jobs


def get_vendor(request: Request, api_key: Annotated[str | None, Security(_api_key)]) -> Vendor:
    """The caller, from the X-API-Key header (401 if missing or unknown)."""
    gate: Gate = request.app.state.gate
    return gate.authenticate(api_key)


async def get_submitter(request: Request, vendor: Annotated[Vendor, Depends(get_vendor)]) -> Vendor:
    """The caller, once the submission rate limit admits it (429 with Retry-After otherwise)."""
    gate: Gate = request.app.state.gate
    await gate.admit_submission(vendor)
    return vendor


JobsDep = Annotated[DeidJobs, Depends(get_jobs)]
VendorDep = Annotated[Vendor, Depends(get_vendor)]
SubmitterDep = Annotated[Vendor, Depends(get_submitter)]


class JobCreated(BaseModel):
    job_id: str


class JobOut(BaseModel):
    job_id: str
    state: str = Field(description="queued | running | done | failed")
    progress: float = Field(description="fraction done, 0..1")
    error: str | None = Field(default=None, description="one-line reason when failed")

    @classmethod
    def of(cls, status: JobStatus) -> JobOut:
        return cls(
            job_id=status.job_id,
            state=status.state.value,
            progress=status.progress,
            error=status.error,
        )


def _attribute(text: str) -> str:
    if not re.fullmatch(ATTRIBUTE, text):
        raise ValueError("must look like name=keep or name=change")
    return text


Attribute = Annotated[
    str, AfterValidator(_attribute), WithJsonSchema({"type": "string", "pattern": f"^{ATTRIBUTE}$"})
]


_ATTRIBUTES_DOC = (
    "NAME=keep|change, comma-separated: only attributes the worker's model was trained to control "
    "(`uunet deid --checkpoint FILE --help` lists them); others fail the job with the reason"
)


class UploadRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # 0 is not false, "1" is not a list: say so (422)

    filename: str = ""
    keep_audio: bool = False
    attributes: list[Attribute] = Field(default_factory=list, description=_ATTRIBUTES_DOC)


class UploadCreated(BaseModel):
    upload_id: str
    url: str = Field(description="PUT the clip's bytes here, then POST .../complete")
    method: str
    expires_s: int


_FORM_FIELDS = frozenset({"keep_audio", "attributes"})
_MULTIPART_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {"type": "string", "format": "binary", "minLength": 1},
                        "keep_audio": {"type": "boolean", "default": False},
                        "attributes": {
                            "type": "string",
                            "pattern": f"^{ATTRIBUTES}$",
                            "description": _ATTRIBUTES_DOC,
                        },
                    },
                }
            }
        },
    }
}

_ANY = error_responses(401, 422, 503)  # every route: credentials, bad input, dependency down
clips = APIRouter(prefix="/v1/clips", tags=["clips"], responses=_ANY)
uploads = APIRouter(prefix="/v1/uploads", tags=["uploads"], responses=_ANY)
jobs_router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=_ANY)


@clips.post(
    "",
    status_code=202,
    response_model=JobCreated,
    openapi_extra=_MULTIPART_DOC,
    responses=error_responses(408, 413, 429),
)
async def post_clip(request: Request, vendor: SubmitterDep, jobs: JobsDep) -> JobCreated:
    """Upload a clip (multipart field ``file``) and queue its de-identification."""
    with jobs.spool_path() as path:
        spec = FormSpec("file", _FORM_FIELDS, jobs.max_bytes_for(vendor), jobs.pace)
        form = await receive_multipart(request, spec, path)
        clip = ClipRequest(
            filename=form.filename or "",
            keep_audio=form_flag(form.fields, "keep_audio"),
            attributes=split_attributes(form.fields.get("attributes", "")),
        )
        return JobCreated(job_id=await jobs.submit_file(vendor, clip, path))


@uploads.post(
    "", status_code=201, response_model=UploadCreated, responses=error_responses(400, 429)
)
async def post_upload(body: UploadRequest, vendor: SubmitterDep, jobs: JobsDep) -> UploadCreated:
    """Start a presigned upload for a large clip: PUT it to ``url``, then complete it."""
    clip = ClipRequest(body.filename, body.keep_audio, tuple(body.attributes))
    up = await jobs.presign_upload(vendor, clip)
    return UploadCreated(
        upload_id=up.upload_id, url=up.url, method=up.method, expires_s=up.expires_s
    )


@uploads.post(
    "/{upload_id}/complete",
    status_code=202,
    response_model=JobCreated,
    responses=error_responses(404, 409, 413),
)
async def complete_upload(upload_id: str, vendor: VendorDep, jobs: JobsDep) -> JobCreated:
    """Queue a presigned upload once its bytes are in place (409 if not yet, 413 if too big)."""
    return JobCreated(job_id=await jobs.complete_upload(vendor, upload_id))


@jobs_router.get("/{job_id}", response_model=JobOut, responses=error_responses(404))
async def get_job(job_id: str, vendor: VendorDep, jobs: JobsDep) -> JobOut:
    """A job's state and progress (404 for unknown ids and for other keys' jobs)."""
    return JobOut.of(await jobs.get(vendor, job_id))


@jobs_router.get(
    "/{job_id}/result",
    response_model=None,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the MP4 (with ?stream=true)"},
        302: {"description": "redirect to a presigned URL"},
        **error_responses(404, 409, 410),
    },
)
async def get_result(
    job_id: str,
    vendor: VendorDep,
    jobs: JobsDep,
    stream: Annotated[bool, Query(description="stream the bytes instead of redirecting")] = False,
) -> RedirectResponse | StreamingResponse:
    """The de-identified MP4: a 302 to a presigned URL, or the bytes with ``?stream=1``."""
    if not stream:
        return RedirectResponse(await jobs.result_url(vendor, job_id), status_code=302)
    key = await jobs.result_key(vendor, job_id)
    info = await jobs.objects.stat(key)
    return StreamingResponse(
        jobs.objects.stream(key),
        media_type="video/mp4",
        headers={
            "Content-Length": str(info.size),
            "Content-Disposition": f'attachment; filename="{job_id}.mp4"',
        },
    )


ROUTERS = (clips, uploads, jobs_router)
