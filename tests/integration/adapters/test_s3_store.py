"""S3ObjectStore (minio SDK) against a real S3 server (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from minio import Minio
from minio.error import S3Error

from shared.adapters.s3_store import S3Config, S3ObjectStore
from shared.domain.errors import NotFoundError

pytestmark = pytest.mark.integration


async def test_put_get_ranged_get_stat_and_delete(object_store: S3ObjectStore) -> None:
    data = bytes(range(256)) * 64
    info = await object_store.put_bytes("raw/a.bin", data)
    assert info.size == len(data)
    assert await object_store.get_bytes("raw/a.bin") == data
    assert await object_store.get_bytes("raw/a.bin", offset=100, length=50) == data[100:150]
    assert (await object_store.stat("raw/a.bin")).size == len(data)
    chunks = [c async for c in object_store.stream("raw/a.bin", chunk_size=5000)]
    assert b"".join(chunks) == data and len(chunks) == 4
    await object_store.delete("raw/a.bin")
    assert not await object_store.exists("raw/a.bin")
    with pytest.raises(NotFoundError):
        await object_store.get_bytes("raw/a.bin")


async def test_files_round_trip(object_store: S3ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"x" * 300_000)
    await object_store.put_file("f/in.bin", src)
    dst = tmp_path / "out.bin"
    await object_store.get_file("f/in.bin", dst)
    assert dst.read_bytes() == src.read_bytes()


async def test_presigned_get_is_fetchable_over_http(object_store: S3ObjectStore) -> None:
    await object_store.put_bytes("out/r.mp4", b"result-bytes", content_type="video/mp4")
    url = await object_store.presigned_get("out/r.mp4", expires_s=60)
    async with httpx.AsyncClient() as client:
        resp = await client.get(url)
    assert resp.status_code == 200
    assert resp.content == b"result-bytes"
    async with httpx.AsyncClient() as client:
        forged = await client.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert forged.status_code == 403


async def test_presigned_put_uploads_without_credentials(object_store: S3ObjectStore) -> None:
    url = await object_store.presigned_put("raw/up.mp4", expires_s=60)
    async with httpx.AsyncClient() as client:
        resp = await client.put(url, content=b"uploaded")
    assert resp.status_code == 200
    assert await object_store.get_bytes("raw/up.mp4") == b"uploaded"


async def test_expiry_rule_is_stored_on_the_bucket(object_store: S3ObjectStore) -> None:
    await object_store.set_expiry_rules({"raw/": 1, "results/": 8})
    rules = object_store.client.get_bucket_lifecycle(object_store.bucket).rules
    got = sorted((r.rule_filter.prefix, r.expiration.days) for r in rules)
    assert got == [("raw/", 1), ("results/", 8)]


def test_server_refuses_wrong_credentials(s3_settings: S3Config) -> None:
    client = Minio(s3_settings.endpoint, "nobody", "wrong-secret", secure=False)
    with pytest.raises(S3Error):
        client.make_bucket(s3_settings.bucket)
