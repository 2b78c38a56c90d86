"""storage: the one package that speaks SQL and imports the database driver.

Connections (``connect``: plain, async, pooled; the driver's errors re-exported as
``DatabaseError`` / ``DatabaseUnavailable`` / ``PoolTimeout``), schema and migrations
(``migrate``, ``migrations/``), the embedded server (``embedded``), the live event channel
(``events``), and one module of keyword-only query functions per concept: ``fleet``,
``telemetry``, ``quarantine``, ``gaps``, ``anomalies``, ``detector_models``, ``tickets``,
``ground_truth``, ``users`` (identity: users, sessions, API keys, failed logins);
``rows`` reads rows as dicts; ``measure`` holds the SQL the benchmarks use. An import contract
(``make check``) refuses a driver import anywhere else.
"""
