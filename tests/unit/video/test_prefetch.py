"""Prefetch: a producer thread a few items ahead, errors delivered in place, early close joins it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from shared.video.prefetch import Prefetch


def _numbers(n: int, log: list[str], fail_at: int | None = None) -> Iterator[int]:
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"bad item {i}")
            log.append(f"made {i}")
            yield i
    finally:
        log.append(f"closed in {threading.current_thread().name}")


def test_items_arrive_in_order_and_the_source_is_closed_in_the_producer() -> None:
    log: list[str] = []
    with closing(Prefetch(_numbers(20, log), depth=2, name="ahead")) as ahead:
        assert list(ahead) == list(range(20))
    assert log[-1] == "closed in ahead"


def test_an_error_reaches_the_consumer_after_the_items_before_it() -> None:
    log: list[str] = []
    got: list[int] = []
    ahead = Prefetch(_numbers(10, log, fail_at=4))
    with closing(ahead), pytest.raises(ValueError, match="bad item 4"):
        for item in ahead:
            got.append(item)
    assert got == [0, 1, 2, 3]


def test_closing_early_stops_the_producer_and_joins_it() -> None:
    log: list[str] = []
    ahead = Prefetch(_numbers(1_000_000, log), depth=2, name="early")
    for item in ahead:
        if item == 3:
            break
    ahead.close()
    assert not any(t.name == "early" for t in threading.enumerate())
    assert log[-1] == "closed in early"
    assert len([x for x in log if x.startswith("made")]) < 10  # it stopped, a few items ahead
    ahead.close()  # idempotent
