"""The public service's use cases, shared by the REST and gRPC front ends.

Submitting a clip: stream it to a temp file (size cap), optionally probe it, put it in S3 under
``raw/<job>``, create the job (state ``queued``, owner = the API key's fingerprint, not its name) and
queue it. Jobs are only visible to the key that created them: another key, or a new key under the
same name, gets "not found", never "forbidden".

A presigned upload goes to its own staging key, and completion copies it to ``raw/<job>``: the URL
stays valid until it expires, so the object the job reads must be one that URL cannot overwrite.
The size is checked on that copy, and the worker checks size and probes the clip again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from services.common.errors import NotReadyError, ResultGoneError, without_paths
from services.common.uploads import UploadPace, UploadSlots, spool_file, too_large
from services.public_deid.auth import Vendor
from shared.domain.errors import BadInputError, NotFoundError, UUNetError
from shared.domain.jobs import JobState, JobStatus
from shared.ports import JobQueue, JobStore, ObjectStore

log = logging.getLogger(__name__)

# A probe raises BadInputError/LimitExceededError for a clip the worker could not process.
Probe = Callable[[Path], object]


@dataclass(frozen=True)
class ClipRequest:
    """What a vendor asks for one clip."""

    filename: str = ""
    keep_audio: bool = False
    attributes: tuple[str, ...] = ()  # "name=keep|change"


@dataclass(frozen=True)
class PresignedUpload:
    """Where to PUT a large clip, and the id to complete the upload with."""

    upload_id: str
    url: str
    expires_s: int
    method: str = "PUT"


@dataclass
class DeidJobs:
    """Use cases over the ports; one instance per API process."""

    objects: ObjectStore
    jobs: JobStore
    queue: JobQueue
    max_bytes: int
    probe: Probe | None = None
    presign_expiry_s: int = 900
    work_dir: Path | None = None
    pace: UploadPace = field(default_factory=UploadPace)
    slots: UploadSlots = field(default_factory=UploadSlots)

    def max_bytes_for(self, vendor: Vendor) -> int:
        """The upload size limit of ``vendor``: its own if set, never above the service's."""
        own = vendor.limits.max_upload_mb
        return self.max_bytes if own is None else min(self.max_bytes, own * 1024 * 1024)

    @contextlib.contextmanager
    def spool_path(self) -> Iterator[Path]:
        """A temp file path for an upload being received (one upload slot); removed afterwards."""
        with self.slots.take(), spool_file(self.work_dir, "uunet-up-", "clip") as path:
            yield path

    async def submit_file(self, vendor: Vendor, request: ClipRequest, path: Path) -> str:
        """Validate a spooled clip, put it in S3 and queue it; returns the job id."""
        parse_attributes(request.attributes)
        size = path.stat().st_size
        if size == 0:
            raise BadInputError("the uploaded clip is empty (0 bytes)")
        if self.probe is not None:
            try:
                await asyncio.to_thread(self.probe, path)
            except UUNetError as err:
                raise without_paths(err, {str(path): "the upload"}) from None
        job_id = new_job_id()
        await self.objects.put_file(raw_key(job_id), path, "application/octet-stream")
        await self._queue(vendor, job_id, request)
        return job_id

    async def presign_upload(self, vendor: Vendor, request: ClipRequest) -> PresignedUpload:
        """A presigned PUT URL for a staging key; the owner and options are kept until completion."""
        parse_attributes(request.attributes)
        upload_id = new_job_id()
        meta = {"owner": vendor.owner, **_request_fields(request)}
        await self.objects.put_bytes(pending_key(upload_id), json.dumps(meta).encode())
        url = await self.objects.presigned_put(staging_key(upload_id), self.presign_expiry_s)
        return PresignedUpload(upload_id, url, self.presign_expiry_s)

    async def complete_upload(self, vendor: Vendor, upload_id: str) -> str:
        """Copy the presigned upload to the job's own key, check that copy's size, queue it."""
        meta = await self._pending(vendor, upload_id)
        try:
            info = await self.objects.copy(staging_key(upload_id), raw_key(upload_id))
        except NotFoundError:
            raise NotReadyError("nothing was uploaded to this upload's URL yet") from None
        await self.objects.delete(staging_key(upload_id))
        limit = self.max_bytes_for(vendor)
        if info.size == 0 or info.size > limit:
            await self.objects.delete(raw_key(upload_id))
            await self.objects.delete(pending_key(upload_id))
            raise too_large(limit) if info.size else BadInputError("the upload is empty")
        await self._queue(vendor, upload_id, _request_from(meta))
        await self.objects.delete(pending_key(upload_id))
        return upload_id

    async def get(self, vendor: Vendor, job_id: str) -> JobStatus:
        """The job's status; NotFoundError if unknown or owned by another key."""
        status = await self.jobs.get(job_id) if _valid_id(job_id) else None
        if status is None or status.extra.get("owner") != vendor.owner:
            raise NotFoundError(f"no job {job_id}")
        return status

    async def result_key(self, vendor: Vendor, job_id: str) -> str:
        """The S3 key of a done job's result; NotReadyError if it is not done."""
        status = await self.get(vendor, job_id)
        if "result_deleted" in status.extra:
            raise ResultGoneError(
                f"the result of job {job_id} was deleted ({status.extra['result_deleted']})"
            )
        if status.state is JobState.FAILED:
            raise NotReadyError(f"job {job_id} failed: {status.error}")
        if status.state is not JobState.DONE or not status.result_key:
            raise NotReadyError(f"job {job_id} is {status.state.value}, not done")
        return status.result_key

    async def result_url(self, vendor: Vendor, job_id: str) -> str:
        """A presigned GET URL of a done job's MP4."""
        return await self.objects.presigned_get(
            await self.result_key(vendor, job_id), self.presign_expiry_s
        )

    async def _pending(self, vendor: Vendor, upload_id: str) -> dict[str, str]:
        if not _valid_id(upload_id):
            raise NotFoundError(f"no upload {upload_id}")
        try:
            meta = json.loads(await self.objects.get_bytes(pending_key(upload_id)))
        except NotFoundError:
            raise NotFoundError(f"no upload {upload_id}") from None
        if meta.get("owner") != vendor.owner:
            raise NotFoundError(f"no upload {upload_id}")
        return {str(k): str(v) for k, v in meta.items()}

    async def _queue(self, vendor: Vendor, job_id: str, request: ClipRequest) -> None:
        fields = {"job_id": job_id, "raw_key": raw_key(job_id), **_request_fields(request)}
        extra = {"owner": vendor.owner, "vendor": vendor.key_id, "raw_key": raw_key(job_id)}
        await self.jobs.create(JobStatus(job_id=job_id, state=JobState.QUEUED, extra=extra))
        await self.queue.enqueue(fields)
        log.info("queued job %s for %s", job_id, vendor.key_id)


def new_job_id() -> str:
    """A random job id (hex, 32 chars)."""
    return uuid.uuid4().hex


def raw_key(job_id: str) -> str:
    """Where a job's raw upload lives in S3 (deleted when the job ends)."""
    return f"raw/{job_id}"


def staging_key(upload_id: str) -> str:
    """Where a presigned URL puts the bytes (under ``raw/``, so the expiry rule removes strays)."""
    return f"raw/{upload_id}.upload"


def pending_key(upload_id: str) -> str:
    """Where a presigned upload's owner and options wait for completion."""
    return f"raw/{upload_id}.pending.json"


def result_key_for(job_id: str) -> str:
    """Where a job's de-identified MP4 goes."""
    return f"results/{job_id}.mp4"


def _valid_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


def _request_fields(request: ClipRequest) -> dict[str, str]:
    return {
        "filename": request.filename[:200],
        "keep_audio": "1" if request.keep_audio else "0",
        "attributes": ",".join(request.attributes),
    }


def _request_from(fields: dict[str, str]) -> ClipRequest:
    attrs = tuple(a for a in fields.get("attributes", "").split(",") if a)
    return ClipRequest(fields.get("filename", ""), fields.get("keep_audio") == "1", attrs)


# One soft attribute and a comma-separated list of them; the OpenAPI specs carry the same patterns,
# written to mean the same in Python and ECMA regexes (no \s, \d or $: their sets differ).
ATTRIBUTE = r"[ \t]*[^,= \t][^,=]*=[ \t]*(?:keep|change)[ \t]*"
ATTRIBUTES = rf"(?:{ATTRIBUTE}(?:,{ATTRIBUTE})*|[ \t]*)"


def split_attributes(text: str) -> tuple[str, ...]:
    """``"beard=keep, gender=change"`` -> ``("beard=keep", "gender=change")``; BadInputError if it
    does not match ``ATTRIBUTES``."""
    if not re.fullmatch(ATTRIBUTES, text):
        raise BadInputError("attributes must look like name=keep,other=change")
    return tuple(item.strip(" \t") for item in text.split(",") if item.strip(" \t"))


def parse_attributes(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["beard=keep", ...]`` -> ``{"beard": "keep"}``; BadInputError on a malformed item."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(" \t"), value.strip(" \t")
        if not sep or value not in ("keep", "change") or not name:
            raise BadInputError(f"attribute {item!r} must look like name=keep or name=change")
        out[name] = value
    return out
