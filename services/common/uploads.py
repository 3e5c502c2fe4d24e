"""Receive uploads without holding them in memory: stream bytes to a temp file under a size cap.

``receive_multipart`` parses ``multipart/form-data`` incrementally (python-multipart's push parser)
as the body arrives, so an over-size upload is refused with 413 as soon as it crosses the limit,
before the rest is read. Everything else it keeps in memory is capped too, also for chunked bodies
without a Content-Length: the number of parts, each field and all fields together (python-multipart
caps each part's headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from services.common.errors import ServerBusyError, UploadTooSlowError
from shared.domain.errors import BadInputError, LimitExceededError, UnavailableError

log = logging.getLogger(__name__)

MAX_FIELD_BYTES = 8192
MAX_FIELDS = 16  # the forms have at most four fields besides the file
MAX_TOTAL_FIELD_BYTES = 16 * 1024
# Multipart framing around the file (boundaries, part headers, small fields).
FRAMING_SLACK = 64 * 1024


@contextlib.contextmanager
def local_storage() -> Iterator[None]:
    """Turn a failing local disk (full, unwritable temp dir) into a 503 "try again later"; the
    OS detail goes to the log, never a path to the caller."""
    try:
        yield
    except OSError as err:
        log.error("upload spool failed: %s", err.strerror or type(err).__name__)
        raise UnavailableError(
            "the server has no room for the upload right now; try again later"
        ) from None


@contextlib.contextmanager
def spool_file(work_dir: Path | None, prefix: str, name: str) -> Iterator[Path]:
    """A path in a fresh temp dir under ``work_dir`` for an upload being received; removed after."""
    with local_storage():
        spool = tempfile.TemporaryDirectory(prefix=prefix, dir=work_dir)
    with spool as tmp:
        yield Path(tmp) / name


@dataclass(frozen=True)
class UploadPace:
    """How slow an upload may be: no byte for ``idle_s``, or on average fewer than
    ``min_bytes_per_s`` once ``grace_s`` have passed, and it is cut off with 408."""

    idle_s: float = 30.0
    min_bytes_per_s: int = 16 * 1024
    grace_s: float = 10.0


async def paced(chunks: AsyncIterator[bytes], pace: UploadPace) -> AsyncIterator[bytes]:
    """``chunks`` as they come, or UploadTooSlowError once the sender is slower than ``pace``."""
    loop = asyncio.get_running_loop()
    started, received = loop.time(), 0
    source = aiter(chunks)
    while True:
        try:
            chunk = await asyncio.wait_for(anext(source), pace.idle_s)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadTooSlowError(
                f"upload stalled: nothing received for {pace.idle_s:.0f} s"
            ) from None
        received += len(chunk)
        elapsed = loop.time() - started
        if elapsed > pace.grace_s and received < pace.min_bytes_per_s * elapsed:
            raise UploadTooSlowError(
                f"upload too slow: under {pace.min_bytes_per_s // 1024} KiB/s after "
                f"{pace.grace_s:.0f} s"
            )
        yield chunk


def form_flag(fields: dict[str, str], name: str) -> bool:
    """A boolean form field, ``true`` or ``false`` as the spec says; absent or empty is false."""
    value = fields.get(name, "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise BadInputError(f"form field {name!r} must be true or false")


def too_large(max_bytes: int) -> LimitExceededError:
    """The one error every front end raises for an over-size upload."""
    return LimitExceededError(f"upload exceeds the size limit of {max_bytes // (1024 * 1024)} MiB")


class UploadSlots:
    """At most ``limit`` uploads spooled to local disk at once in this process (0: no limit), so
    a scratch volume sized for ``limit`` maximum-size uploads is never overrun; one more is
    refused at once (503 / UNAVAILABLE with a retry hint) instead of getting the pod evicted."""

    RETRY_AFTER_S = 10

    def __init__(self, limit: int = 0) -> None:
        self.limit = limit
        self.in_use = 0

    @contextlib.contextmanager
    def take(self) -> Iterator[None]:
        """Hold one slot while an upload is received and handled."""
        if self.limit and self.in_use >= self.limit:
            raise ServerBusyError(
                f"this server is receiving {self.limit} uploads already; retry shortly",
                self.RETRY_AFTER_S,
            )
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1


async def spool_chunks(
    chunks: AsyncIterator[bytes], dest: Path, max_bytes: int, pace: UploadPace | None = None
) -> int:
    """Write ``chunks`` to ``dest``; LimitExceededError once over ``max_bytes``, UploadTooSlowError
    when slower than ``pace``. Returns the size."""
    size = 0
    with local_storage(), dest.open("wb") as fh:
        async for chunk in paced(chunks, pace or UploadPace()):
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            fh.write(chunk)
    return size


@dataclass
class MultipartUpload:
    """The file part's size and filename, and the other (small) form fields."""

    size: int = 0
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    found_file: bool = False


class _Parts:
    """Callbacks of the push parser: the file part goes to ``sink``, others to ``fields``."""

    def __init__(
        self, file_field: str, sink: BinaryIO, max_bytes: int, allowed: frozenset[str]
    ) -> None:
        self.file_field = file_field
        self.allowed = allowed
        self.sink = sink
        self.max_bytes = max_bytes
        self.out = MultipartUpload()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._value = bytearray()
        self._parts = 0
        self._field_bytes = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_header_name", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _add(self, attr: str, data: bytes) -> None:
        # python-multipart bounds each part's headers (8 lines of 4 KiB at most).
        setattr(self, attr, getattr(self, attr) + bytes(data))

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_FIELDS + 1:  # the fields and the file
            raise BadInputError(f"too many form fields (at most {MAX_FIELDS})")
        self._headers, self._name, self._value = {}, "", bytearray()

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._name != self.file_field and self._name not in self.allowed:
            raise BadInputError(f"unknown form field {self._name[:40]!r}")
        if self._name == self.file_field:
            if self.out.found_file:
                raise BadInputError(f"more than one {self.file_field!r} file part")
            self.out.found_file = True
            raw = params.get(b"filename")
            self.out.filename = raw.decode("utf-8", "replace") if raw else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name == self.file_field:
            self.out.size += end - start
            if self.out.size > self.max_bytes:
                raise too_large(self.max_bytes)
            self.sink.write(data[start:end])
        else:
            self._value += data[start:end]
            self._field_bytes += end - start
            if len(self._value) > MAX_FIELD_BYTES:
                raise BadInputError(f"form field {self._name[:40]!r} is too long")
            if self._field_bytes > MAX_TOTAL_FIELD_BYTES:
                raise BadInputError(f"form fields exceed {MAX_TOTAL_FIELD_BYTES} bytes in all")

    def _part_end(self) -> None:
        if self._name and self._name != self.file_field:
            if self._name in self.out.fields:
                raise BadInputError(f"form field {self._name!r} is given more than once")
            self.out.fields[self._name] = self._value.decode("utf-8", "replace")


@dataclass(frozen=True)
class FormSpec:
    """What a multipart form may hold: one file part and these (small) fields, each at most once."""

    file_field: str
    fields: frozenset[str]
    max_bytes: int
    pace: UploadPace = UploadPace()


async def receive_multipart(request: Request, form: FormSpec, dest: Path) -> MultipartUpload:
    """Stream the request's multipart body, writing the file part to ``dest``; 413 over the size
    limit, 408 when slower than the pace, 422 for a malformed, unknown or abusive part."""
    file_field, max_bytes, pace = form.file_field, form.max_bytes, form.pace
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadInputError(f"expected multipart/form-data with a {file_field!r} file field")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + FRAMING_SLACK:
        raise too_large(max_bytes)  # refuse before reading a byte
    with local_storage(), dest.open("wb") as fh:
        parts = _Parts(file_field, fh, max_bytes, form.fields)
        parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
        try:
            async for chunk in paced(request.stream(), pace):
                parser.write(chunk)
            parser.finalize()
        except (BadInputError, LimitExceededError, UploadTooSlowError, OSError):
            raise
        except Exception as err:  # python-multipart raises its own parse errors
            raise BadInputError(f"malformed multipart body: {err}") from None
    if not parts.out.found_file:
        raise BadInputError(f"missing the {file_field!r} file field")
    return parts.out
