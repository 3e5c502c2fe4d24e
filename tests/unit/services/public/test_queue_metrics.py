"""The worker's queue gauges (what the PrometheusRule alerts read): depth, lag, dead letters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.common.metrics import JobMetrics
from shared.domain.jobs import QueueMessage
from tests.unit.services.public.fakes import FakeQueue


async def test_refresh_reports_lag_and_dead_letters() -> None:
    registry = CollectorRegistry()
    metrics, queue = JobMetrics(registry, "uunet_public"), FakeQueue()
    for job in ("a", "b", "c"):
        await queue.enqueue({"job_id": job})
    (first,) = await queue.read("w1", 1)
    await queue.dead_letter(QueueMessage(first.msg_id, first.fields), "failed 3 times")
    await metrics.refresh_queue(queue)
    value = registry.get_sample_value
    assert value("uunet_public_queue_lag") == 2
    assert value("uunet_public_queue_dead_letters") == 1
