"""Unauthenticated callers can neither flood the API nor grow the audit log without bound: every
request counts against its client's rate limit, and anonymous refusals are aggregated in the log."""

from __future__ import annotations

from shared.audit.chain import verify
from tests.unit.services.private.conftest import CLIENT_LIMIT, World

STATUS = "/v1/reconstructions/" + "0" * 32


async def test_anonymous_refusals_add_a_bounded_number_of_audit_entries(world: World) -> None:
    for _ in range(CLIENT_LIMIT):
        assert (await world.client.get(STATUS)).status_code == 401
    assert len(world.audit.snapshot) == 1  # the first refusal of the window, with its detail
    await world.desk.refusals.flush()  # the window closes (also on shutdown)
    entries = world.audit.snapshot
    assert [e.outcome for e in entries] == ["refused:missing-token"] * 2
    assert entries[-1].actor == "anonymous"
    assert f"{CLIENT_LIMIT - 1} more" in entries[-1].detail and "1 client" in entries[-1].detail
    assert verify(entries).ok


async def test_a_client_over_its_rate_limit_gets_429_and_others_do_not(world: World) -> None:
    for _ in range(CLIENT_LIMIT):
        await world.client.get(STATUS)
    over = await world.client.get(STATUS)
    assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
    token = world.issuer.header(case_id="CASE-1")
    assert (await world.client.get(STATUS, headers=token)).status_code == 429  # same client
    other = await world.other_client.get(STATUS, headers=token)
    assert other.status_code == 404
    await world.desk.refusals.flush()
    outcomes = [e.outcome for e in world.audit.snapshot]
    assert outcomes.count("refused:rate-limited") <= 2  # first one, then one summary
