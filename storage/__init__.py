"""storage: the one package that speaks SQL.

Schema and migrations (``migrate``), the embedded server (``embedded``), connections
(``connect``), and one module of keyword-only query functions per concept: ``fleet``,
``telemetry``, ``quarantine``, ``anomalies``, ``tickets``. No other package imports psycopg.
"""
