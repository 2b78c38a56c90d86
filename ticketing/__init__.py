"""ticketing: anomalies become graded tickets with SLA clocks and a strict lifecycle.

Modules, by concept: ``policy`` (TOML policy files, validated), ``grading`` (tier x impact,
multi-customer escalation), ``clocks`` (deadlines, pauses, overdue), ``lifecycle`` (the state
machine and ``apply_event``), ``intake`` (one anomaly -> ticket), ``dispatch`` (who gets it),
``service`` (``run_ticketing``: NOTIFY + sweep), ``errors`` (the exception hierarchy).
Shipped policies are in ``ticketing/policies``; the format is in ``docs/service-policy.md``.
"""
