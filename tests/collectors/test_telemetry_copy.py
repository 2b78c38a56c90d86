"""Binary COPY encoding and the exactly-once write, against a real PostgreSQL."""

from datetime import UTC, datetime

import numpy as np

from storage.telemetry import (
    QUALITY_BAD,
    QUALITY_GOOD,
    QUALITY_UNCERTAIN,
    PointColumns,
    encode_copy,
    write_copy,
)
from tests.collectors.fleet_fixture import register_small_fleet


def cols(ids, t0_us, values, quality):
    n = len(values)
    return PointColumns(time_us=np.array([t0_us + 1000 * i for i in range(n)], dtype=np.int64),
                        robot_id=np.full(n, ids, dtype=np.int32),
                        signal_id=np.full(n, 1, dtype=np.int16),
                        value=np.array(values, dtype=np.float64),
                        quality=np.array(quality, dtype=np.int16))


def test_encoded_rows_round_trip_with_null_for_bad_quality(db):
    rid = register_small_fleet(db.info.dsn)["R1"]
    db.execute("INSERT INTO signals (name) VALUES ('J1.current')")
    t0 = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)
    t0_us = int(t0.timestamp()) * 1_000_000 + t0.microsecond
    c = cols(rid, t0_us, [1.5, float("nan"), -2.25], [QUALITY_GOOD, QUALITY_BAD, QUALITY_UNCERTAIN])
    res = write_copy(conn=db, data=encode_copy(c), rows=len(c))
    db.commit()
    assert (res.inserted, res.deduplicated) == (3, False)
    got = db.execute("SELECT time, robot_id, signal_id, value, quality FROM telemetry "
                     "ORDER BY time").fetchall()
    assert got[0] == (t0, rid, 1, 1.5, 0)
    assert got[1][3] is None and got[1][4] == QUALITY_BAD  # bad quality is not a reading
    assert got[2][3:] == (-2.25, QUALITY_UNCERTAIN)
    assert (got[2][0] - got[0][0]).total_seconds() == 0.002


def test_a_batch_overlapping_stored_points_adds_only_the_new_ones(db):
    rid = register_small_fleet(db.info.dsn)["R1"]
    db.execute("INSERT INTO signals (name) VALUES ('J1.current')")
    t0_us = int(datetime.now(UTC).timestamp() * 1e6)
    first = cols(rid, t0_us, [float(i) for i in range(100)], [0] * 100)
    write_copy(conn=db, data=encode_copy(first), rows=100)
    db.commit()
    # A replay: the same 100 points again, plus 50 new ones.
    again = cols(rid, t0_us, [float(i) for i in range(150)], [0] * 150)
    data = encode_copy(again)
    res = write_copy(conn=db, data=data, rows=150)
    db.commit()
    assert (res.inserted, res.deduplicated) == (50, True)
    res = write_copy(conn=db, data=data, rows=150)
    db.commit()
    assert res.inserted == 0
    assert db.execute(
        "SELECT count(*), count(DISTINCT time) FROM telemetry"
    ).fetchone() == (150, 150)
