"""Upload slots: an API process receives at most ``max_concurrent_uploads`` uploads at once, so
the scratch volume sized for that many maximum-size uploads is never overrun (no pod eviction);
one more is refused at once with 503 and a Retry-After, and nothing is stored or queued."""

from __future__ import annotations

import httpx
import pytest

from services.common.errors import ServerBusyError, grpc_status_for, http_status_for
from services.common.uploads import UploadSlots
from services.public_deid import bootstrap
from tests.unit.services.public.conftest import KEY_A, Wired
from tests.unit.services.public.test_rest import upload


def test_slots_refuse_one_more_than_the_limit_and_free_on_exit() -> None:
    slots = UploadSlots(2)
    with slots.take(), slots.take():
        with pytest.raises(ServerBusyError, match="2 uploads already") as refused, slots.take():
            pass
        assert slots.in_use == 2
    assert slots.in_use == 0
    assert http_status_for(refused.value) == 503
    assert grpc_status_for(refused.value).name == "UNAVAILABLE"
    with UploadSlots(0).take():  # 0: unbounded
        pass


async def test_rest_upload_beyond_the_slots_is_503_with_retry_after(wired: Wired) -> None:
    settings = wired.settings.model_copy(update={"max_concurrent_uploads": 1})
    app = bootstrap.build_app(settings, wired.adapters, probe=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with app.state.deid_jobs.slots.take():  # another upload is being received
            busy = await upload(client, KEY_A)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == str(UploadSlots.RETRY_AFTER_S)
        assert wired.queue.entries == [] and wired.objects.data == {}
        assert (await upload(client, KEY_A)).status_code == 202
