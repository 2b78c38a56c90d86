"""The stream's fan-out: pure asyncio, no server."""

from __future__ import annotations

import asyncio

import pytest

from api.hub import Hub


async def test_every_subscriber_gets_every_message_in_order() -> None:
    hub = Hub(queue_size=8)
    with hub.subscribe() as a, hub.subscribe() as b:
        assert hub.clients == 2
        for i in range(3):
            hub.publish(f"m{i}")
        for sub in (a, b):
            assert [await sub.get() for _ in range(3)] == ["m0", "m1", "m2"]
    assert hub.clients == 0


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_up() -> None:
    hub = Hub(queue_size=2)
    with hub.subscribe() as slow, hub.subscribe() as fast:
        got = []
        for i in range(5):
            hub.publish(f"m{i}")
            got.append(await fast.get())
        assert got == [f"m{i}" for i in range(5)]
        assert fast.reason is None and not fast.ended.is_set()
        assert slow.reason == "overflow" and slow.ended.is_set()
        assert hub.clients == 1
        # What was queued before the overflow is still there; nothing after it.
        assert [await slow.get(), await slow.get()] == ["m0", "m1"]


async def test_close_ends_current_and_later_subscribers() -> None:
    hub = Hub(queue_size=2)
    with hub.subscribe() as sub:
        hub.close()
        await asyncio.wait_for(sub.ended.wait(), 1)
        assert sub.reason == "shutdown"
    with hub.subscribe() as late:
        assert late.reason == "shutdown" and hub.clients == 0
    hub.publish("ignored")  # no subscriber left; must not raise


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Hub(queue_size=0)
