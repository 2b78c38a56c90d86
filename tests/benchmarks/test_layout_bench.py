"""bench layout's wide table answers every read exactly as the narrow table does."""

from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks.ingest_layout import _fleet_values
from storage.measure_layout import (
    chart_binned,
    chart_raw,
    copy_wide,
    create_wide,
    encode_wide_copy,
    read_points_wide,
    read_ticks_wide,
    summarize_brin,
    training_narrow,
    training_wide,
)
from storage.telemetry import PointColumns, copy_encoded, encode_copy, read_points, table_bytes


def test_both_layouts_hold_the_same_points_and_answer_alike(db):
    t, r, sids, values = _fleet_values(robots=3, signals=7, rate=10, seconds=30)
    n, k = values.shape
    copy_encoded(conn=db, data=encode_copy(PointColumns(
        time_us=np.repeat(t, k), robot_id=np.repeat(r, k), signal_id=np.tile(sids, n),
        value=values.ravel(), quality=np.zeros(n * k, dtype=np.int16))))
    create_wide(conn=db)
    copy_wide(conn=db, data=encode_wide_copy(time_us=t, robot_id=r, signal_ids=sids,
                                             values=values))
    db.commit()
    assert table_bytes(conn=db, table="bench_telemetry_wide") < table_bytes(conn=db)
    assert summarize_brin(conn=db) >= 0
    end = datetime.fromtimestamp(t[-1] / 1e6, UTC)
    first = datetime.fromtimestamp(t[0] / 1e6, UTC) - timedelta(microseconds=1)
    after = end - timedelta(seconds=5)

    def key(b):
        order = np.lexsort((b.signal, b.robot, b.time))
        return b.time[order], b.robot[order], b.signal[order], b.value[order]

    narrow = read_points(conn=db, after=after, until=end)
    assert len(narrow) == 50 * 3 * k  # 5 s x 10 Hz x robots x signals
    for wide in (read_points_wide(conn=db, after=after, until=end),
                 read_ticks_wide(conn=db, after=after, until=end, n_signals=k)):
        for a, b in zip(key(narrow), key(wide), strict=True):
            np.testing.assert_array_equal(a, b)
    assert training_narrow(conn=db, robot_id=2, after=first, until=end) == n // 3 * k
    assert training_wide(conn=db, robot_id=2, after=first, until=end) == n // 3 * k
    sel = [int(s) for s in sids[:3]]
    raw = {lay: chart_raw(conn=db, layout=lay, robot_id=1, signals=sel,
                          start=end - timedelta(seconds=10), end=end, cap=501)
           for lay in ("narrow", "wide")}
    binned = {lay: chart_binned(conn=db, layout=lay, robot_id=1, signals=sel, start=first,
                                end=end, step_s=5) for lay in ("narrow", "wide")}
    assert raw["narrow"] == raw["wide"] == 3 * 100  # end excluded: 100 ticks of 10 s
    assert binned["narrow"] == binned["wide"] >= 3 * 6
