"""Refusals by a real Mosquitto: a refused subscription is a failed connect, retried and
reported; refused credentials stop the collector for good.

The broker (``acl_mosquitto``) lets anonymous clients publish telemetry but not subscribe
to it, and lets user ``reader`` subscribe. No message is published, so the writer and the
registry never reach the database they are given.
"""

import asyncio
import logging
import time

import pytest

from collectors.errors import SourceRefused
from collectors.metrics import CollectorMetrics
from collectors.mqtt import MqttCollector, MqttConfig
from collectors.registry import Registry
from collectors.supervise import LinkState, RetryPolicy
from collectors.writer import BatchWriter
from tests.fix_mqtt import AclBroker

pytestmark = [pytest.mark.mqtt]

NO_DB = "postgresql://nobody@127.0.0.1:1/none"
FAST = RetryPolicy(initial_s=0.1, max_s=0.4, jitter_s=0.05, healthy_s=1.0)


def collector(url: str, protocol: str, metrics: CollectorMetrics) -> MqttCollector:
    cfg = MqttConfig(url=url, client_id=f"refusal-{protocol}-{time.monotonic_ns()}",
                     protocol=protocol, retry=FAST, ack_timeout_s=5)
    return MqttCollector(config=cfg, writer=BatchWriter(conninfo=NO_DB, metrics=metrics),
                         registry=Registry(conninfo=NO_DB), metrics=metrics)


def sample(metrics: CollectorMetrics, name: str, url: str) -> float:
    value = metrics.registry.get_sample_value(name, {"origin": url})
    return 0.0 if value is None else value


def state_of(col: MqttCollector) -> LinkState:
    return col.state  # read afresh: mypy would keep an earlier assertion's narrowing


async def until(pred, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.parametrize(("protocol", "reason"), [
    ("5", "Not authorized (0x87)"),
    ("3.1.1", "(0x80)"),
])
async def test_refused_subscription_is_reported_and_retried_never_connected(
    acl_mosquitto: AclBroker, protocol: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="collectors")
    url = acl_mosquitto.url()
    metrics = CollectorMetrics()
    col = collector(url, protocol, metrics)
    states: set[LinkState] = set()
    stop = asyncio.Event()
    task = asyncio.create_task(col.run(stop))
    try:
        def refused_twice() -> bool:
            states.add(col.state)
            return sample(metrics, "robowatch_subscribe_refused_total", url) >= 2
        assert await until(refused_twice), caplog.text
        assert LinkState.CONNECTED not in states
        assert col.state in (LinkState.CONNECTING, LinkState.BACKING_OFF)
        assert sample(metrics, "robowatch_source_connected", url) == 0
        topic = "robowatch/+/+/+/+/telemetry"
        lines = [r for r in caplog.records if "refused the subscription" in r.getMessage()]
        assert lines, caplog.text
        assert all(r.levelno == logging.ERROR for r in lines)
        assert topic in lines[0].getMessage() and reason in lines[0].getMessage()
        assert "retry in" in lines[0].getMessage()
        assert not [r for r in caplog.records if "subscribed" in r.getMessage()]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert state_of(col) is LinkState.STOPPED


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_granted_subscription_connects(acl_mosquitto: AclBroker, protocol: str) -> None:
    url = acl_mosquitto.url(user=acl_mosquitto.user, password=acl_mosquitto.password)
    metrics = CollectorMetrics()
    col = collector(url, protocol, metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(col.run(stop))
    try:
        assert await until(lambda: col.state is LinkState.CONNECTED)
        assert sample(metrics, "robowatch_source_connected", url) == 1
        assert sample(metrics, "robowatch_subscribe_refused_total", url) == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert col.state is LinkState.STOPPED
    assert sample(metrics, "robowatch_source_connected", url) == 0


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_refused_credentials_stop_the_collector_without_retrying(
    acl_mosquitto: AclBroker, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="collectors")
    url = acl_mosquitto.url(user=acl_mosquitto.user, password="wrong")
    metrics = CollectorMetrics()
    col = collector(url, protocol, metrics)
    with pytest.raises(SourceRefused, match="Not authorized"):
        await asyncio.wait_for(col.run(asyncio.Event()), 10)
    assert col.state is LinkState.REFUSED
    assert not [r for r in caplog.records if "retry in" in r.getMessage()]
