"""services.common pieces the public service relies on: multipart streaming, readiness, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from starlette.requests import Request

from services.common.errors import RateLimitedError, grpc_status_for, http_status_for
from services.common.http import run_checks
from services.common.uploads import FormSpec, receive_multipart, spool_chunks
from shared.domain.errors import BadInputError, LimitExceededError, NotFoundError
from tests.unit.services.public.conftest import KEY_A

BOUNDARY = "xYz123"


def body(file_bytes: bytes, **fields: str) -> bytes:
    out = b""
    for name, value in fields.items():
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a b.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    return out + file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


def request_of(data: bytes, chunk: int, content_length: bool = True) -> Request:
    headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    if content_length:
        headers.append((b"content-length", str(len(data)).encode()))
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [b""]

    async def receive() -> dict[str, object]:
        piece = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive)


def spec(max_bytes: int, *fields: str) -> FormSpec:
    return FormSpec("file", frozenset(fields or ("keep_audio", "attributes")), max_bytes)


@pytest.mark.parametrize("chunk", [1, 7, 4096])
async def test_multipart_file_and_fields_survive_any_chunking(tmp_path: Path, chunk: int) -> None:
    payload = bytes(range(256)) * 40 + b"\r\n--xYz12 almost a boundary"
    dest = tmp_path / "f"
    form = await receive_multipart(
        request_of(body(payload, keep_audio="true", attributes="beard=keep"), chunk),
        spec(1 << 20),
        dest,
    )
    assert dest.read_bytes() == payload and form.size == len(payload)
    assert form.filename == "a b.mp4"
    assert form.fields == {"keep_audio": "true", "attributes": "beard=keep"}


async def test_multipart_over_limit_stops_at_the_limit_even_without_content_length(
    tmp_path: Path,
) -> None:
    data = body(bytes(5000))
    with pytest.raises(LimitExceededError):
        await receive_multipart(
            request_of(data, 512, content_length=False), spec(4096), tmp_path / "f"
        )
    assert (tmp_path / "f").stat().st_size <= 4096  # never wrote past the cap


async def test_multipart_without_the_file_field_or_truncated_is_bad_input(tmp_path: Path) -> None:
    no_file = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--{BOUNDARY}--\r\n'
    )
    with pytest.raises(BadInputError, match="missing the 'file'"):
        await receive_multipart(
            request_of(no_file.encode(), 64), spec(1 << 20, "x"), tmp_path / "f"
        )
    with pytest.raises(BadInputError):
        await receive_multipart(
            request_of(b"garbage with no boundary", 64), spec(1 << 20), tmp_path / "g"
        )


def _fields_body(count: int, size: int) -> bytes:
    fields = {f"f{i}": "x" * size for i in range(count)}
    return body(b"clip", **fields)


@pytest.mark.parametrize(
    ("count", "size", "reason"),
    [(1000, 10, "too many form fields"), (4, 8000, "form fields exceed")],
)
async def test_multipart_caps_the_number_and_total_size_of_form_fields(
    tmp_path: Path, count: int, size: int, reason: str
) -> None:
    """Chunked, so no Content-Length: the caps hold while the body streams."""
    request = request_of(_fields_body(count, size), 4096, content_length=False)
    with pytest.raises(BadInputError, match=reason):
        fields = spec(1 << 30, *(f"f{i}" for i in range(count)))  # all known: the caps decide
        await receive_multipart(request, fields, tmp_path / "f")


async def test_multipart_caps_part_headers(tmp_path: Path) -> None:
    huge = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"; x="{"y" * 100_000}"\r\n'
    data = (huge + f"\r\n1\r\n--{BOUNDARY}--\r\n").encode()
    with pytest.raises(BadInputError, match="header size"):
        await receive_multipart(request_of(data, 4096), spec(1 << 30, "a"), tmp_path / "f")


async def test_upload_endpoint_refuses_a_flood_of_form_fields(client: httpx.AsyncClient) -> None:
    """The review's request: 1,000 fields of 8 KB, chunked; it used to be accepted (202)."""

    async def chunks() -> AsyncIterator[bytes]:
        data = _fields_body(1000, 8000)
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    headers = {"X-API-Key": KEY_A, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    resp = await client.post("/v1/clips", headers=headers, content=chunks())
    # Refused at the first part already: the route knows only keep_audio and attributes.
    assert resp.status_code == 422 and resp.json()["detail"] == "unknown form field 'f0'"


async def test_spool_chunks_enforces_the_cap(tmp_path: Path) -> None:
    async def chunks(n: int) -> AsyncIterator[bytes]:
        for _ in range(n):
            yield bytes(1000)

    assert await spool_chunks(chunks(3), tmp_path / "ok", 3000) == 3000
    with pytest.raises(LimitExceededError, match="size limit"):
        await spool_chunks(chunks(4), tmp_path / "big", 3000)


async def test_readiness_reports_failing_false_and_slow_checks_by_name() -> None:
    async def ok() -> bool:
        return True

    async def false() -> bool:
        return False

    async def boom() -> None:
        raise ConnectionError("down")

    async def slow() -> None:
        await asyncio.sleep(5)

    checks = {"ok": ok, "false": false, "boom": boom, "slow": slow}
    assert sorted(await run_checks(checks, timeout_s=0.1)) == ["boom", "false", "slow"]


def test_domain_errors_map_to_http_and_grpc_statuses() -> None:
    cases = [
        (LimitExceededError("x"), 413, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (BadInputError("x"), 422, grpc.StatusCode.INVALID_ARGUMENT),
        (NotFoundError("x"), 404, grpc.StatusCode.NOT_FOUND),
        (RateLimitedError("x", 3), 429, grpc.StatusCode.RESOURCE_EXHAUSTED),
    ]
    for err, http, code in cases:
        assert (http_status_for(err), grpc_status_for(err)) == (http, code)


async def test_api_keys_never_reach_the_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    files = {"file": ("c.mp4", b"abc")}
    await client.post("/v1/clips", headers={"X-API-Key": KEY_A}, files=files)
    await client.post("/v1/clips", headers={"X-API-Key": "uuk_wrong-secret"}, files=files)
    await client.get(f"/v1/jobs/{'a' * 32}", headers={"X-API-Key": KEY_A})
    assert caplog.records  # something was logged...
    assert KEY_A not in caplog.text and "uuk_wrong-secret" not in caplog.text  # ...but no key
