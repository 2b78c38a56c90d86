"""SQL the reports benchmark (``benchmarks/reports.py``) builds its data with: a synthetic
fleet, a year of closed tickets with their full history, and stoppage anomalies, all written
set-based with ``generate_series``. Not used by the services.

The history goes through the real insert path of ``ticket_events`` (the chain trigger of
migration ``records_audit``), so what the benchmark verifies was chained as in production.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

__all__ = ["synthetic_fleet", "synthetic_tickets", "synthetic_history", "synthetic_stoppages",
           "analyze"]

EVENTS_PER_TICKET = 10


def synthetic_fleet(*, conn: psycopg.Connection, customers: int, robots: int,
                    engineers: int) -> None:
    """``customers`` customers (tiers in turn), one site and line each, ``robots`` robots dealt
    round the lines, and ``engineers`` engineers (every fifth a manager)."""
    conn.execute("""
        INSERT INTO customers (code, name, tier, city)
        SELECT 'BC' || g, 'Bench customer ' || g,
               (ARRAY['core', 'important', 'ordinary'])[1 + g %% 3], 'Suzhou'
          FROM generate_series(1, %(n)s::int) g""", {"n": customers})
    conn.execute("""INSERT INTO sites (customer_id, code, name, city)
                    SELECT id, 'S1', 'Plant', 'Suzhou' FROM customers WHERE code LIKE 'BC%%'""")
    conn.execute("""INSERT INTO lines (site_id, code, name)
                    SELECT s.id, 'L1', 'Line' FROM sites s
                      JOIN customers c ON c.id = s.customer_id WHERE c.code LIKE 'BC%%'""")
    conn.execute("""
        WITH l AS (SELECT l.id, row_number() OVER (ORDER BY l.id) - 1 AS k,
                          count(*) OVER () AS n
                     FROM lines l JOIN sites s ON s.id = l.site_id
                     JOIN customers c ON c.id = s.customer_id WHERE c.code LIKE 'BC%%')
        INSERT INTO robots (code, line_id, brand, model)
        SELECT 'BR-' || g, l.id, 'ABB', 'IRB6700'
          FROM generate_series(0, %(n)s::int - 1) g JOIN l ON l.k = g %% l.n""", {"n": robots})
    conn.execute("""
        INSERT INTO engineers (code, name, role)
        SELECT 'BE-' || g, 'Bench engineer ' || g,
               CASE WHEN g %% 5 = 0 THEN 'manager' ELSE 'engineer' END
          FROM generate_series(1, %(n)s::int) g""", {"n": engineers})


def synthetic_tickets(*, conn: psycopg.Connection, first: int, last: int, start: datetime,
                      spacing_s: float) -> tuple[int, int]:
    """Tickets ``first``..``last`` (numbered ``BENCH-n``), accepted ``spacing_s`` apart from
    ``start``, all resolved, signed off and archived; grades in turn, responses and repairs
    spread so that some are late. The lowest and highest id written."""
    row = conn.execute("""
        WITH r AS (SELECT r.id, c.id AS customer_id, c.tier,
                          row_number() OVER (ORDER BY r.id) - 1 AS k, count(*) OVER () AS n
                     FROM robots r JOIN lines l ON l.id = r.line_id
                     JOIN sites s ON s.id = l.site_id JOIN customers c ON c.id = s.customer_id
                    WHERE r.code LIKE 'BR-%%'),
        e AS (SELECT e.id, row_number() OVER (ORDER BY e.id) - 1 AS k, count(*) OVER () AS n
                FROM engineers e WHERE e.code LIKE 'BE-%%'),
        g AS (SELECT g, %(start)s + make_interval(secs => g * %(spacing)s) AS at,
                     (ARRAY['I', 'II', 'III', 'IV'])[1 + g %% 4] AS grade,
                     (ARRAY[15, 30, 60, 120])[1 + g %% 4] AS respond_min,
                     (ARRAY[24, 48, 48, 4])[1 + g %% 4] AS resolve_h
                FROM generate_series(%(first)s::int, %(last)s::int) g),
        w AS (SELECT g.*, 1 + (g.g * 37) %% (2 * g.respond_min) AS took_min,
                     30 + (g.g * 53) %% (75 * g.resolve_h) AS fix_min FROM g),
        ins AS (
        INSERT INTO tickets (number, robot_id, customer_id, tier, impact, grade, component, kind,
                             title, channel, state, assignee_id, policy, created_at, respond_by,
                             resolve_by, responded_at, resolved_at, closed_at, updated_at)
        SELECT 'BENCH-' || w.g, r.id, r.customer_id, r.tier,
               (ARRAY['stoppage', 'core-module', 'non-core', 'minor'])[1 + w.g %% 4], w.grade,
               'J' || (1 + w.g %% 6), 'fault_' || (w.g * 7 %% 12), 'bench ticket',
               'monitoring', 'archived', e.id, 'bench',
               w.at, w.at + make_interval(mins => w.respond_min),
               w.at + make_interval(hours => w.resolve_h),
               w.at + make_interval(mins => w.took_min),
               w.at + make_interval(mins => w.took_min + w.fix_min),
               w.at + make_interval(mins => w.took_min + w.fix_min + 60),
               w.at + make_interval(mins => w.took_min + w.fix_min + 90)
          FROM w JOIN r ON r.k = (w.g * 7919) %% r.n JOIN e ON e.k = w.g %% e.n
        RETURNING id)
        SELECT min(id), max(id) FROM ins""",
                       {"first": first, "last": last, "start": start,
                        "spacing": spacing_s}).fetchone()
    assert row is not None  # an aggregate always yields one row
    return int(row[0]), int(row[1])


def synthetic_history(*, conn: psycopg.Connection, first_id: int, last_id: int) -> int:
    """The ten history rows of each ticket with an id in ``first_id``..``last_id``, in order,
    through the chain trigger; how many were written."""
    cur = conn.execute("""
        INSERT INTO ticket_events (ticket_id, at, event, actor, from_state, to_state, data)
        SELECT t.id,
               CASE s.step WHEN 1 THEN t.created_at
                           WHEN 2 THEN t.created_at + interval '1 minute'
                           WHEN 3 THEN t.responded_at
                           WHEN 4 THEN t.responded_at + interval '1 minute'
                           WHEN 8 THEN t.resolved_at
                           WHEN 9 THEN t.closed_at
                           WHEN 10 THEN t.updated_at
                           ELSE t.responded_at + (t.resolved_at - t.responded_at) * (s.step - 4) / 4
               END,
               s.event, 'bench', s.from_state, s.to_state,
               CASE s.step WHEN 8 THEN jsonb_build_object('report', jsonb_build_object(
                                'process', 'remote', 'cause', 'wear', 'solution', 'replaced',
                                'parts_used', jsonb_build_array('seal'),
                                'before_after', 'leak -> none'))
                           WHEN 2 THEN jsonb_build_object('assignee', 'bench')
                           WHEN 5 THEN jsonb_build_object('plan', 'replace the seal')
                           ELSE jsonb_build_object('message', 'progress ' || s.step) END
          FROM tickets t
         CROSS JOIN (VALUES (1, 'created', NULL, 'new'), (2, 'dispatch', 'new', 'dispatched'),
                            (3, 'accept', 'dispatched', 'accepted'),
                            (4, 'start_remote', 'accepted', 'in_progress'),
                            (5, 'submit_plan', 'in_progress', 'in_progress'),
                            (6, 'send_update', 'in_progress', 'in_progress'),
                            (7, 'send_update', 'in_progress', 'in_progress'),
                            (8, 'resolve', 'in_progress', 'resolved'),
                            (9, 'sign_off', 'resolved', 'signed_off'),
                            (10, 'archive', 'signed_off', 'archived'))
               AS s(step, event, from_state, to_state)
         WHERE t.id BETWEEN %(a)s AND %(b)s
         ORDER BY t.id, s.step""", {"a": first_id, "b": last_id})
    return cur.rowcount


def synthetic_stoppages(*, conn: psycopg.Connection, count: int, start: datetime,
                        spacing_s: float) -> None:
    """``count`` closed stoppage anomalies on the bench robots, ``spacing_s`` apart, each
    lasting 10 to 250 minutes."""
    conn.execute("""
        WITH r AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS n
                     FROM robots WHERE code LIKE 'BR-%%')
        INSERT INTO anomalies (robot_id, component, kind, detector, impact, started_at, ended_at)
        SELECT r.id, 'controller', 'stopped', 'bench', 'stoppage',
               %(start)s + make_interval(secs => g * %(spacing)s),
               %(start)s + make_interval(secs => g * %(spacing)s, mins => 10 + g %% 240)
          FROM generate_series(1, %(n)s::int) g JOIN r ON r.k = (g * 104729) %% r.n""",
                 {"n": count, "start": start, "spacing": spacing_s})


def analyze(*, conn: psycopg.Connection) -> None:
    """Fresh planner statistics (and visibility maps) after the bulk load."""
    for table in ("tickets", "ticket_events", "ticket_event_heads", "anomalies", "robots"):
        conn.execute(f"VACUUM ANALYZE {table}")
