"""Migration 0019: the BRIN index detection reads through summarizes itself."""

from datetime import UTC, datetime, timedelta

from storage.telemetry import ensure_partitions


def brin_options(db) -> dict[str, list[str] | None]:
    rows = db.execute(
        """SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_am a ON a.oid = c.relam
            WHERE a.amname = 'brin' AND c.relkind IN ('i', 'I')
              AND c.relname LIKE 'telemetry%'""").fetchall()
    return dict(rows)


def test_every_telemetry_brin_autosummarizes_including_partitions_made_later(db):
    before = brin_options(db)
    assert before and all(o == ["autosummarize=on"] for o in before.values()), before
    # A partition created after the migration (ensure_partitions runs daily) inherits it.
    db.execute("CREATE TABLE telemetry_20991231 PARTITION OF telemetry FOR VALUES FROM "
               "('2099-12-31 00:00+00') TO ('2100-01-01 00:00+00')")
    ensure_partitions(conn=db, days_back=0, days_ahead=9)
    after = brin_options(db)
    assert len(after) > len(before)
    assert all(o == ["autosummarize=on"] for o in after.values()), after
    later = datetime.now(UTC) + timedelta(days=9)
    assert any(later.strftime("%Y%m%d") in name for name in after), after
