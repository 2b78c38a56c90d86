"""A real Mosquitto broker for the test session, on a free local port.

``make test`` installs Mosquitto with apt-get when missing; run by hand without it, the MQTT
tests are skipped with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.brokers import local_broker, mosquitto_path

__all__ = ["mosquitto"]


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[str]:
    """``mqtt://127.0.0.1:PORT`` of a broker running for the whole session."""
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (make test installs it with apt-get)")
    with local_broker("mosquitto") as (url, _):
        yield url
