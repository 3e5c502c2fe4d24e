"""Receive uploads without holding them in memory: stream bytes to a temp file under a size cap.

``receive_multipart`` parses ``multipart/form-data`` incrementally (python-multipart's push parser)
as the body arrives, so an over-size upload is refused with 413 as soon as it crosses the limit,
before the rest is read; small form fields are kept (capped) in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from services.common.errors import ServerBusyError
from shared.domain.errors import BadInputError, LimitExceededError

MAX_FIELD_BYTES = 8192
# Multipart framing around the file (boundaries, part headers, small fields).
FRAMING_SLACK = 64 * 1024


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


async def spool_chunks(chunks: AsyncIterator[bytes], dest: Path, max_bytes: int) -> int:
    """Write ``chunks`` to ``dest``; LimitExceededError once over ``max_bytes``. Returns the size."""
    size = 0
    with dest.open("wb") as fh:
        async for chunk in chunks:
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

    def __init__(self, file_field: str, sink: BinaryIO, max_bytes: int) -> None:
        self.file_field = file_field
        self.sink = sink
        self.max_bytes = max_bytes
        self.out = MultipartUpload()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._value = bytearray()

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
        setattr(self, attr, getattr(self, attr) + bytes(data))

    def _part_begin(self) -> None:
        self._headers, self._name, self._value = {}, "", bytearray()

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._name == self.file_field:
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
            if len(self._value) > MAX_FIELD_BYTES:
                raise BadInputError(f"form field {self._name!r} is too long")

    def _part_end(self) -> None:
        if self._name and self._name != self.file_field:
            self.out.fields[self._name] = self._value.decode("utf-8", "replace")


async def receive_multipart(
    request: Request, file_field: str, dest: Path, max_bytes: int
) -> MultipartUpload:
    """Stream the request's multipart body, writing part ``file_field`` to ``dest``."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadInputError(f"expected multipart/form-data with a {file_field!r} file field")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + FRAMING_SLACK:
        raise too_large(max_bytes)  # refuse before reading a byte
    with dest.open("wb") as fh:
        parts = _Parts(file_field, fh, max_bytes)
        parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except (BadInputError, LimitExceededError):
            raise
        except Exception as err:  # python-multipart raises its own parse errors
            raise BadInputError(f"malformed multipart body: {err}") from None
    if not parts.out.found_file:
        raise BadInputError(f"missing the {file_field!r} file field")
    return parts.out
