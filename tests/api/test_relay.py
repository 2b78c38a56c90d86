"""The relay renders what someone is listening for, and only moves its cursor otherwise."""

from __future__ import annotations

import psycopg

from api.hub import Hub
from api.relay import Relay
from storage.connect import open_pool
from tests.api.seed import NOW, add_anomaly, seed_fleet


def test_entries_nobody_listens_for_move_the_cursor_unrendered(
    db_url: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    hub = Hub(queue_size=8)
    pool = open_pool(db_url, name="relay-test", min_size=1, max_size=1, timeout=10, wait=True)
    try:
        relay = Relay(conninfo=db_url, pool=pool, hub=hub, clock=lambda: NOW)
        start = relay._log_end()
        unheard = add_anomaly(db, robots, robot="R-0001")
        batch, last, read = relay._read(start)
        assert (batch, read) == ([], 1) and last is not None and last > start

        heard = add_anomaly(db, robots, robot="R-0002")
        with hub.subscribe():
            batch, after, read = relay._read(last)
        assert read == 1 and after is not None and after > last
        rendered = [item for item in batch if item is not None]
        assert [item.topic.type for item in rendered] == ["anomaly"]
        assert f'"id":{heard}' in rendered[0].text and f'"id":{unheard}' not in rendered[0].text
    finally:
        pool.close()
