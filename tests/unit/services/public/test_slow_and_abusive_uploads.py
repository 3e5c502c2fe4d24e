"""Slow and abusive uploads against the real HTTP server (uvicorn) over fakes of the ports: a
client dripping its request head or body, or going silent, is cut off (408) after the stated
time; over-size, many-part and odd multipart bodies are refused before anything is stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from services.common.serve import ApiServer
from services.public_deid import bootstrap
from tests.unit.services.public.conftest import KEY_A, Wired

BOUNDARY = "xyzzy"


@pytest_asyncio.fixture
async def server(wired: Wired) -> AsyncIterator[ApiServer]:
    settings = wired.settings.model_copy(
        update={
            "http_host": "127.0.0.1",
            "http_port": 0,
            "grpc_port": 0,
            "http_head_timeout_s": 0.5,
            "upload_idle_timeout_s": 0.5,
            "upload_min_kib_per_s": 1,
            "upload_grace_s": 0.5,
        }
    )
    api = ApiServer(bootstrap.build_api(settings, wired.adapters, probe=None))
    await api.start()
    yield api
    await api.stop()


def head(length: int) -> bytes:
    return (
        "POST /v1/clips HTTP/1.1\r\nHost: t\r\n"
        f"X-API-Key: {KEY_A}\r\nContent-Length: {length}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    ).encode()


def part(name: str, extra_head: str = "") -> bytes:
    filename = '; filename="c.mp4"' if name == "file" else ""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{filename}\r\n'
        f"{extra_head}\r\n"
    ).encode()


async def exchange(
    server: ApiServer, at_once: bytes, dripped: bytes = b"", every_s: float = 0.02
) -> tuple[bytes, float]:
    """Send ``at_once``, then ``dripped`` one byte every ``every_s`` (or nothing more); return
    the server's answer and the seconds from the end of ``at_once`` to it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.http_port)
    writer.write(at_once)
    await writer.drain()
    started = time.monotonic()

    async def drip() -> None:
        for i in range(len(dripped)):
            writer.write(dripped[i : i + 1])
            await writer.drain()
            await asyncio.sleep(every_s)

    sender = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(reader.read(4096), 10)
    finally:
        sender.cancel()
        writer.close()
    return answer, time.monotonic() - started


async def test_a_client_dripping_its_request_head_is_cut_off(server: ApiServer) -> None:
    answer, after = await exchange(server, b"", head(1000))
    assert answer.startswith(b"HTTP/1.1 408")
    assert 0.4 < after < 3


async def test_a_client_dripping_its_body_gets_408_and_nothing_is_stored(
    server: ApiServer, wired: Wired
) -> None:
    body = part("file") + bytes(5000)
    answer, after = await exchange(server, head(len(body)) + body[:100], body[100:])
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"upload too slow: under 1 KiB/s after 0 s" in answer
    assert 0.4 < after < 4
    assert wired.objects.data == {} and wired.queue.entries == []


async def test_a_client_that_goes_silent_mid_body_gets_408(server: ApiServer, wired: Wired) -> None:
    body = part("file") + bytes(5000)
    answer, after = await exchange(server, head(len(body)) + body[:1000])
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"upload stalled: nothing received for 0 s" in answer or b"stalled" in answer
    assert 0.4 < after < 4
    assert wired.objects.data == {}


async def chunks(total: int) -> AsyncIterator[bytes]:
    yield part("file")
    for _ in range(total // 65536):
        yield bytes(65536)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_chunked_body_over_the_limit_is_413_before_it_is_stored(
    server: ApiServer, wired: Wired
) -> None:
    headers = {
        "X-API-Key": KEY_A,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as client:
        # No Content-Length (chunked), so only the streaming cap can stop it.
        resp = await client.post("/v1/clips", headers=headers, content=chunks(3 * 1024 * 1024))
    assert resp.status_code == 413 and "size limit of 1 MiB" in resp.json()["detail"]
    assert wired.objects.data == {} and wired.queue.entries == []
    work = wired.settings.work_dir
    assert work is not None and list(work.iterdir()) == []  # the spool file is gone too


async def post_raw(server: ApiServer, body: bytes) -> httpx.Response:
    headers = {"X-API-Key": KEY_A, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as client:
        return await client.post("/v1/clips", headers=headers, content=body)


async def test_many_small_parts_are_refused_at_the_first_extra_one(
    server: ApiServer, wired: Wired
) -> None:
    # A form holds one file and each known field at most once: at most 3 parts on this route.
    tail = f"--{BOUNDARY}--\r\n".encode()
    unknown = b"".join(part(f"f{i}") + b"x\r\n" for i in range(10_000)) + tail
    repeated = b"".join(part("attributes") + b"beard=keep\r\n" for _ in range(10_000)) + tail
    first, second = await post_raw(server, unknown), await post_raw(server, repeated)
    assert (first.status_code, second.status_code) == (422, 422)
    assert first.json()["detail"] == "unknown form field 'f0'"
    assert second.json()["detail"] == "form field 'attributes' is given more than once"
    assert wired.objects.data == {}


async def test_a_part_with_huge_headers_is_refused(server: ApiServer) -> None:
    body = (
        part("file", "X-Pad: " + "a" * 100_000 + "\r\n")
        + b"data\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )
    resp = await post_raw(server, body)
    assert resp.status_code == 422 and "header" in resp.json()["detail"]


async def test_two_file_parts_are_refused(server: ApiServer) -> None:
    one = part("file") + b"aaaa\r\n"
    resp = await post_raw(server, one + one + f"--{BOUNDARY}--\r\n".encode())
    assert resp.status_code == 422 and resp.json()["detail"] == "more than one 'file' file part"
