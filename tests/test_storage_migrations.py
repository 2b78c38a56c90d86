import psycopg
import pytest

from storage.migrate import load_migrations, render_ddl, upgrade


def test_timescale_ddl_has_hypertable_compression_retention_and_aggregate():
    ddl = render_ddl("timescale")
    assert "create_hypertable('telemetry'" in ddl
    assert "add_compression_policy" in ddl
    assert "add_retention_policy" in ddl
    assert "timescaledb.continuous" in ddl


def test_postgres_ddl_partitions_by_time_without_timescale():
    ddl = render_ddl("postgres")
    assert "PARTITION BY RANGE (time)" in ddl
    assert "create_hypertable" not in ddl and "CREATE EXTENSION" not in ddl


def test_dialects_share_every_version_and_common_file():
    pg = load_migrations("postgres")
    ts = load_migrations("timescale")
    assert [m.version for m in pg] == [m.version for m in ts]
    shared = {m.name for m in pg} & {m.name for m in ts}
    assert "0001_fleet" in shared and "0003_events" in shared


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError):
        load_migrations("mysql")  # type: ignore[arg-type]


def test_upgrade_is_idempotent_and_recorded(db_url):
    assert upgrade(db_url) == []  # the template already holds every migration
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT version, dialect FROM schema_version ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == [m.version for m in load_migrations("postgres")]
    assert {r[1] for r in rows} == {"postgres"}


def test_telemetry_partitions_exist_ahead(db):
    n = db.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'telemetry'::regclass"
    ).fetchone()[0]
    assert n >= 8  # default partition + today and days ahead


def test_ticket_history_is_append_only(db):
    db.execute("INSERT INTO customers (code, name, tier) VALUES ('C1', 'C', 'core')")
    db.execute("INSERT INTO sites (customer_id, code, name) VALUES (1, 'S1', 'S')")
    db.execute("INSERT INTO lines (site_id, code, name) VALUES (1, 'L1', 'L')")
    db.execute("INSERT INTO robots (code, line_id) VALUES ('R1', 1)")
    db.execute(
        """INSERT INTO tickets (number, robot_id, customer_id, tier, impact, grade, component,
               kind, title, state, policy, created_at, respond_by, resolve_by)
           VALUES ('T1', 1, 1, 'core', 'stoppage', 'I', 'J1', 'x', 't', 'new', 'p', now(),
               now(), now())"""
    )
    db.execute("INSERT INTO ticket_events (ticket_id, event, actor) VALUES (1, 'created', 'sys')")
    db.commit()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("UPDATE ticket_events SET actor = 'someone else'")
    db.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("DELETE FROM ticket_events")


def test_partitions_are_created_ahead_on_demand_and_only_once(db):
    from storage.telemetry import ensure_partitions

    db.autocommit = True
    created = ensure_partitions(conn=db, days_back=0, days_ahead=12)
    assert created == 5  # the migration made today .. +7; this adds +8 .. +12
    assert ensure_partitions(conn=db, days_back=0, days_ahead=12) == 0
    names = [r[0] for r in db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'telemetry'::regclass").fetchall()]
    assert sum(n.startswith("telemetry_2") for n in names) >= 13
