"""Per-key limits: a key may carry its own upload size, rate and daily job quota (set by
``uunet apikey create``), which the REST and gRPC doors apply instead of the service-wide ones."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from services.public_deid import bootstrap
from services.public_deid.auth import ApiKeys, VendorLimits, hash_key
from services.public_deid.settings import PublicSettings
from shared.domain.errors import ConfigError
from tests.unit.services.public.fakes import (
    FakeJobStore,
    FakeObjectStore,
    FakeQueue,
    MemoryRateLimiter,
)
from uunet_cli.main import main as uunet

SMALL, BIG = "uuk_small-vendor-key", "uuk_big-vendor-key"


def test_apikey_create_stores_a_keys_own_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_file = tmp_path / "keys.json"
    argv = ["apikey", "create", "--file", str(keys_file), "--name", "cam1"]
    assert uunet([*argv, "--max-upload-mb", "50", "--jobs-per-day", "1000"]) == 0
    key = capsys.readouterr().out.strip()
    stored = json.loads(keys_file.read_text())
    assert stored == {"cam1": {"sha256": hash_key(key), "max_upload_mb": 50, "jobs_per_day": 1000}}
    vendor = ApiKeys(keys_file).authenticate(key)
    assert vendor.limits == VendorLimits(max_upload_mb=50, jobs_per_day=1000)


@pytest.mark.parametrize(
    "entry",
    [{"sha256": "x"}, {"sha256": "a" * 64, "max_upload_mb": -1}, {"sha256": "a" * 64, "oops": 1}],
)
def test_a_malformed_limits_entry_is_a_config_error(tmp_path: Path, entry: object) -> None:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"cam1": entry}))
    with pytest.raises(ConfigError, match="must map key ids"):
        ApiKeys(keys_file)


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    keys_file = tmp_path / "keys.json"
    small = {"sha256": hash_key(SMALL), "max_upload_mb": 1, "rate_per_minute": 2}
    keys_file.write_text(json.dumps({"small": small, "big": hash_key(BIG)}))
    settings = PublicSettings(
        dev=True, api_keys_file=keys_file, max_upload_mb=3, rate_limit_per_minute=10
    )
    adapters = bootstrap.Adapters(
        FakeObjectStore(), FakeJobStore(), FakeQueue(), MemoryRateLimiter(10)
    )
    app = bootstrap.build_app(settings, adapters, probe=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def upload(client: httpx.AsyncClient, key: str, size: int) -> httpx.Response:
    files = {"file": ("c.mp4", bytes(size), "video/mp4")}
    return await client.post("/v1/clips", headers={"X-API-Key": key}, files=files)


async def test_a_keys_own_size_limit_and_rate_apply_to_it_only(client: httpx.AsyncClient) -> None:
    two_mib = 2 * 1024 * 1024
    refused = await upload(client, SMALL, two_mib)
    assert refused.status_code == 413 and "size limit of 1 MiB" in refused.json()["detail"]
    assert (await upload(client, BIG, two_mib)).status_code == 202  # the service-wide 3 MiB
    assert (await upload(client, SMALL, 1000)).status_code == 202
    over = await upload(client, SMALL, 1000)  # the 3rd submission of 'small' this minute
    assert over.status_code == 429 and "Retry-After" in over.headers
    assert (await upload(client, BIG, 1000)).status_code == 202
